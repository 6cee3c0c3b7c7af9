"""The project's root exception.

Every error the gateway raises on purpose derives from :class:`GatewayError`, so callers can tell
our errors from library ones, and each carries structured fields instead of only a message.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every temporal-gateway exception."""


class RouteConfigError(GatewayError):
    """A route document (or the whole table) is invalid.

    Attributes:
        message: what is wrong, without the location.
        source: where the document came from (a file path, or ``<memory>``).
        field: the dotted path of the offending field, when one is known.
    """

    def __init__(self, message: str, *, source: str, field: str | None = None) -> None:
        super().__init__(f"{source}: {field + ': ' if field else ''}{message}")
        self.message = message
        self.source = source
        self.field = field

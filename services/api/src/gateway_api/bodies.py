"""Reading a request body safely: media type, size limit, JSON, then shape limits.

The size limit is enforced while streaming, so a client that lies in (or omits)
``Content-Length`` still cannot make the API buffer more than the limit. The shape limits (depth,
string length, items per array or object) are checked before the route's JSON Schema, whose
validator would otherwise walk whatever it is given. Only what JSON can carry and Temporal's
converter can encode is accepted: no ``NaN``/``Infinity`` and no lone UTF-16 surrogates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from gateway_api.errors import BodyTooLarge, InputLimitExceeded, MalformedJson, UnsupportedMediaType


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_bytes: int
    max_depth: int
    max_string_length: int
    max_items: int


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _no_constants(name: str) -> Any:
    raise MalformedJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedJson(f"{text} is too large for a number")
    return value


async def read_json(request: Request, limits: BodyLimits) -> Any:
    """The parsed JSON body, within ``limits``.

    Raises:
        UnsupportedMediaType: the body is not declared as JSON.
        BodyTooLarge: the body is longer than ``limits.max_bytes``.
        MalformedJson: the body is not valid UTF-8 JSON.
        InputLimitExceeded: too deep, a string too long, too many items.
    """
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            f"Content-Type {request.headers.get('content-type', '(none)')!r} is not JSON; "
            "send Content-Type: application/json"
        )
    limit = limits.max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge(limit)
    try:
        body = json.loads(chunks, parse_constant=_no_constants, parse_float=_finite)
    except RecursionError:
        raise InputLimitExceeded(
            "body", f"nested deeper than {limits.max_depth}", limits.max_depth
        ) from None
    except ValueError as exc:  # also integers beyond Python's digit limit
        raise MalformedJson(str(exc)) from exc
    check_shape(body, limits)
    return body


async def read_optional_json(request: Request, limits: BodyLimits) -> Any:
    """Like :func:`read_json`, but an empty body (no ``Content-Length``, or 0, and no bytes) is
    :data:`NO_BODY` rather than an error: signals, queries and updates may take no argument."""
    declared = request.headers.get("content-length")
    if declared in (None, "0") and "transfer-encoding" not in request.headers:
        return NO_BODY
    return await read_json(request, limits)


NO_BODY: Any = type("NoBody", (), {"__repr__": lambda _self: "NO_BODY"})()
"""The request had no body."""


def _path(parts: tuple[str | int, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    out = out or "body"
    return out if len(out) <= 200 else out[:199] + "…"  # keys can be long: keep problems short


def check_shape(body: Any, limits: BodyLimits) -> None:
    """Walk the body once, without recursion.

    Raises:
        InputLimitExceeded: a limit is exceeded (the first one found is named).
        MalformedJson: a string holds a lone surrogate, which cannot be encoded again.
    """
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(body, 0, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            _check_string(value, path, limits)
        elif isinstance(value, dict | list):
            if depth >= limits.max_depth:
                raise InputLimitExceeded(
                    _path(path), f"nested deeper than {limits.max_depth}", limits.max_depth
                )
            if len(value) > limits.max_items:
                raise InputLimitExceeded(
                    _path(path), f"more than {limits.max_items} items", limits.max_items
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_string(key, path, limits, "a key")
                    stack.append((item, depth + 1, (*path, key)))
            else:
                stack.extend((item, depth + 1, (*path, i)) for i, item in enumerate(value))


def _check_string(
    value: str, path: tuple[str | int, ...], limits: BodyLimits, what: str = "a string"
) -> None:
    if len(value) > limits.max_string_length:
        raise InputLimitExceeded(
            _path(path),
            f"{what} longer than {limits.max_string_length} characters",
            limits.max_string_length,
        )
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise MalformedJson(f"{_path(path)}: {what} with a lone UTF-16 surrogate") from None

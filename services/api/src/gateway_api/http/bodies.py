"""Reading a request body safely: media type, size limit, JSON, then shape limits.

Only what means one thing to every parser is accepted: UTF-8 (RFC 8259), uncompressed (no
``Content-Encoding`` the API would have to undo, or ignore), objects without repeated keys.

The size limit is enforced while streaming, so a client that lies in (or omits)
``Content-Length`` still cannot make the API buffer more than the limit. The shape limits (depth,
string length, items per array or object) are checked before the route's JSON Schema, whose
validator would otherwise walk whatever it is given. Only what JSON can carry and Temporal's
converter can encode is accepted: no ``NaN``/``Infinity`` and no lone UTF-16 surrogates.
"""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request

from gateway_api.config import BodyLimits
from gateway_api.errors import (
    BodyTooLarge,
    InputLimitExceeded,
    InvalidBody,
    MalformedJson,
    UnsupportedMediaType,
)
from gateway_core.routes import FieldError


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which copy of a repeated key wins (the last, here; the first in
    # others): a body that means two things to two programs is refused.
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise InvalidBody([FieldError(_path((key,)), "the key appears more than once")])
        found[key] = value
    return found


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
        UnsupportedMediaType: the body is not declared as UTF-8 JSON, or is compressed.
        BodyTooLarge: the body is longer than ``limits.max_bytes``.
        MalformedJson: the body is not valid UTF-8 JSON.
        InputLimitExceeded: too deep, a string too long, too many items.
        InvalidBody: an object repeats a key.
    """
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise UnsupportedMediaType(
            f"Content-Type {content_type or '(none)'!r} is not JSON; "
            "send Content-Type: application/json"
        )
    charset = _charset(content_type)
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedMediaType(f"charset {charset!r}: JSON bodies are UTF-8 (RFC 8259)")
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r}: send the body uncompressed", accept_encoding=True
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
        # Decoded here, strictly: json.loads would guess UTF-16 or UTF-32 from the bytes.
        text = chunks.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        body = json.loads(
            text,
            parse_constant=_no_constants,
            parse_float=_finite,
            object_pairs_hook=_no_duplicates,
        )
    except RecursionError:
        raise InputLimitExceeded(
            "body", f"nested deeper than {limits.max_depth}", limits.max_depth
        ) from None
    except json.JSONDecodeError as exc:
        # The parser's own words and position, never an exception's repr.
        raise MalformedJson(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError:  # integers beyond the interpreter's digit limit
        raise MalformedJson("a number has too many digits") from None
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

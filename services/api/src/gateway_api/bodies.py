"""Reading a request body safely: media type, size limit, then JSON.

The size limit is enforced while streaming, so a client that lies in (or omits)
``Content-Length`` still cannot make the API buffer more than the limit.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from gateway_api.errors import BodyTooLarge, MalformedJson, UnsupportedMediaType


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body.

    Raises:
        UnsupportedMediaType: the body is not declared as JSON.
        BodyTooLarge: the body is longer than ``limit`` bytes.
        MalformedJson: the body is not valid UTF-8 JSON.
    """
    if not _is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            f"Content-Type {request.headers.get('content-type', '(none)')!r} is not JSON; "
            "send Content-Type: application/json"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge(limit)
    try:
        return json.loads(chunks)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedJson(str(exc)) from exc

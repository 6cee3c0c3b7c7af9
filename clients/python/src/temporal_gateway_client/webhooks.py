"""Verify the gateway's completion webhooks (Standard Webhooks signatures) in a receiver::

    from temporal_gateway_client import webhooks

    event = webhooks.verify(request_body, request.headers, ["whsec_…"], route="orders")
    if already_seen(event_id := request.headers["webhook-id"]):
        return 200  # a retry of a delivery you already took

Pass the raw body bytes, exactly as received (a re-serialized JSON body will not verify). Pass
both secrets during a rotation: the gateway signs with each it has, and one match is enough.
Pass the route whose deliveries this receiver takes: the signed body names it (``data.route``),
so a delivery another route's caller aimed here is refused even if both routes share a secret.
Deliveries are retried with the same ``webhook-id``; de-duplicate on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's marker, not a secret)


class WebhookVerificationError(Exception):
    """The delivery is not authentic or not fresh: refuse it (answer 4xx, do not act on it)."""


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    tolerance: float = 300,
    *,
    route: str | None = None,
    now: float | None = None,
) -> Any:
    """The delivery's JSON, once its signature matches one of ``secrets``, its timestamp is
    within ``tolerance`` seconds of now (so a captured delivery cannot be replayed later) and,
    when ``route`` is given, it names that route (``data.route``).

    Raises:
        WebhookVerificationError: a header is missing, the timestamp is malformed or outside
            the tolerance, no signature matches, or the delivery is another route's.
        ValueError: a secret is not ``whsec_<base64>``.
    """
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    signatures = lower.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not stamp.isdigit():
        raise WebhookVerificationError("webhook-timestamp is not a Unix time in seconds")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is more than {tolerance:g}s from now: refusing a replay"
        )
    keys = [_key(s) for s in ([secrets] if isinstance(secrets, str) else secrets)]
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in keys]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(given, e) for e in expected):
            return _for_route(json.loads(body), route)
    raise WebhookVerificationError("no signature matches the given secrets")


def _for_route(event: Any, route: str | None) -> Any:
    if route is None:
        return event
    data = event.get("data") if isinstance(event, dict) else None
    named = data.get("route") if isinstance(data, dict) else None
    if named != route:
        raise WebhookVerificationError(f"the delivery is for route {named!r}, not {route!r}")
    return event

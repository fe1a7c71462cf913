"""Webhook signatures as the Standard Webhooks specification defines them
(https://www.standardwebhooks.com), so any of its libraries verifies clinifile's deliveries:

    webhook-id         msg_<event id>: the same on every retry, to dedupe on
    webhook-timestamp  UNIX seconds of this attempt
    webhook-signature  v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"> under the
                       endpoint's secret (whsec_<base64 key>, shown once at creation)

A receiver in Python:

    from clinifile.webhooks import verify
    event = verify(request_body_bytes, request.headers, secret)   # WebhookVerificationError

Standard library only: the server signs with it and a receiver needs nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from clinifile.errors import WebhookVerificationError

__all__ = ["WebhookVerificationError", "headers", "new_secret", "sign", "verify"]

SECRET_PREFIX = "whsec_"
# how far a webhook-timestamp may be from the receiver's clock (the specification's default)
TOLERANCE_SECONDS = 5 * 60


def new_secret() -> str:
    """A fresh endpoint secret: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError(
            "the secret is not whsec_ followed by base64; copy it exactly as it was shown when "
            "the endpoint was created"
        ) from None
    if not key:
        raise WebhookVerificationError("the secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The v1 signature of one delivery."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of one delivery attempt, signed now (or at timestamp)."""
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": sign(secret, msg_id, at, body),
    }


def verify(
    body: bytes | str,
    request_headers: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int = TOLERANCE_SECONDS,
    now: float | None = None,
) -> Any:
    """The event (parsed JSON) when the headers carry a v1 signature of body under secret
    and a timestamp within tolerance_seconds of now; WebhookVerificationError otherwise.
    body must be the bytes exactly as received (not re-serialised JSON)."""
    raw = body.encode() if isinstance(body, str) else body
    lowered = {k.lower(): v for k, v in request_headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise WebhookVerificationError(
            "webhook-id, webhook-timestamp and webhook-signature headers are required"
        )
    if not stamp.isdigit():
        raise WebhookVerificationError(f"webhook-timestamp {stamp[:20]!r} is not UNIX seconds")
    at = int(stamp)
    current = time.time() if now is None else now
    if abs(current - at) > tolerance_seconds:
        raise WebhookVerificationError(
            f"webhook-timestamp {at} is {int(current - at)} s from now, more than the "
            f"{tolerance_seconds} s allowed (a replay, or a clock to fix)"
        )
    expected = sign(secret, msg_id, at, raw).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return json.loads(raw)
    raise WebhookVerificationError("no v1 signature matches this body under the secret")

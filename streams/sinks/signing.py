"""The webhook signature: HMAC-SHA256 over `<timestamp>.<body>` with the shared secret.

    X-Followup-Timestamp: 1715679000            unix seconds when the attempt was made
    X-Followup-Signature: sha256=<hex digest>   HMAC-SHA256(secret, timestamp + "." + body)

A receiver recomputes the digest over the raw body bytes, compares in constant time and
refuses timestamps too far from its clock (replays). Each attempt is signed afresh, so a
retry after a long backoff still passes a five-minute tolerance. The README shows the
receiver side as a copy-paste snippet; `verify` is the same recipe.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

TIMESTAMP_HEADER = "X-Followup-Timestamp"
SIGNATURE_HEADER = "X-Followup-Signature"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value for one attempt."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float,
    tolerance_seconds: float = 300.0,
) -> bool:
    """True when `signature` is ours for `timestamp` and `body`, and `timestamp` is recent."""
    try:
        age = abs(now - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(
        sign(secret, timestamp, body), signature
    )

"""HMAC signatures of pushes (ARCHITECTURE.md §4, contract).

`X-Mallbridge-Timestamp: <unix seconds>` and
`X-Mallbridge-Signature: sha256=<hex HMAC-SHA256(ingest_secret, "{timestamp}.{raw body}")>`.
A timestamp more than `window_s` away from now, in either direction, is refused: old ones to limit
replays, far-future ones because they would stay "fresh" for as long as the client wishes.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "X-Mallbridge-Timestamp"
SIGNATURE_HEADER = "X-Mallbridge-Signature"
SIGNATURE_WINDOW_S = 300
_SCHEME = "sha256="


TIMESTAMP_ALLOWED = f"unix seconds (digits), at most {SIGNATURE_WINDOW_S} s from the server's clock"
SIGNATURE_ALLOWED = 'sha256=<hex HMAC-SHA256(ingest_secret, "{timestamp}.{raw body}")>'


class SignatureError(ValueError):
    """A push whose signature is missing, malformed, stale or wrong. Messages never contain secrets.
    `field` names the header at fault and `allowed` what it must hold."""

    def __init__(self, message: str, field: str = SIGNATURE_HEADER, allowed: str = SIGNATURE_ALLOWED) -> None:
        super().__init__(message)
        self.field = field
        self.allowed = allowed


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The `X-Mallbridge-Signature` value for a body sent with `timestamp` (used by clients and tests)."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{_SCHEME}{digest}"


def verify(
    *,
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now_unix: float,
    window_s: int = SIGNATURE_WINDOW_S,
) -> None:
    """Raise SignatureError unless `signature` signs `body` with `timestamp` inside the window around now."""
    if not timestamp:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header", TIMESTAMP_HEADER, TIMESTAMP_ALLOWED)
    if not signature:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    ts_text = timestamp.strip()
    if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} must be unix seconds (digits only)", TIMESTAMP_HEADER, TIMESTAMP_ALLOWED
        )
    age = now_unix - int(ts_text)
    if age > window_s:
        raise SignatureError(f"{TIMESTAMP_HEADER} is older than {window_s} s", TIMESTAMP_HEADER, TIMESTAMP_ALLOWED)
    if age < -window_s:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {window_s} s in the future", TIMESTAMP_HEADER, TIMESTAMP_ALLOWED
        )
    given = signature.strip()
    if not given.lower().startswith(_SCHEME):
        raise SignatureError(f"{SIGNATURE_HEADER} must be '{_SCHEME}<hex digest>'")
    expected = sign(secret, ts_text, body)
    # Compare bytes: a header may carry any latin-1 text, and compare_digest refuses non-ASCII str.
    if not hmac.compare_digest(expected.encode(), _SCHEME.encode() + given[len(_SCHEME) :].lower().encode("latin-1")):
        raise SignatureError("signature does not match the body and timestamp")

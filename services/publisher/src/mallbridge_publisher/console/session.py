"""The console's session: a signed cookie (never the token itself) and CSRF tokens bound to it.

- The signing key is derived from the console token (HMAC-SHA256 of a fixed purpose string under the
  token), so sessions survive a publisher restart and all end when the token is changed.
- The session cookie carries the name the person gave at login, a random session id and the moment it
  was issued, signed with that key; it expires `SESSION_TTL_S` after login. It is HttpOnly and
  SameSite=Strict (set in `app.py`).
- The CSRF token of a session is HMAC(key, "csrf:" + session id): every form carries it, every POST is
  checked against it. Before login there is no session, so the login form's token is bound to a random
  nonce in a short-lived cookie of its own.
- Logging out ends the session here: its id is kept until the session would have expired, and a cookie
  of an ended session is refused. That list lives in this process (a restarted publisher, or another one,
  accepts the cookie until it expires; changing the token ends every session everywhere).
- Secrets are compared in constant time (`hmac.compare_digest`), the token through its SHA-256 digest so
  the comparison does not depend on its length either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

SESSION_COOKIE = "mallbridge_console"
LOGIN_COOKIE = "mallbridge_console_login"
SESSION_TTL_S = 12 * 3600
LOGIN_TTL_S = 15 * 60
MIN_TOKEN_LENGTH = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    name: str
    sid: str
    issued_at: int


class SessionKeys:
    """Everything the console signs or checks, from its token (which it never hands out)."""

    def __init__(self, token: str) -> None:
        if len(token) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the console token must have at least {MIN_TOKEN_LENGTH} characters")
        self._token_digest = hashlib.sha256(token.encode()).digest()
        self._key = hmac.new(token.encode(), b"mallbridge console session v1", hashlib.sha256).digest()
        self._ended: dict[str, int] = {}  # session id -> when its cookie would have expired anyway

    def end(self, session: Session, *, now: float) -> None:
        """Log out: the session's cookie is refused from now on (by this process)."""
        self._ended = {sid: until for sid, until in self._ended.items() if until >= now}
        self._ended[session.sid] = session.issued_at + SESSION_TTL_S

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(given.encode()).digest(), self._token_digest)

    def _sign(self, message: str) -> str:
        return _b64(hmac.new(self._key, message.encode(), hashlib.sha256).digest())

    def issue(self, name: str, *, sid: str, now: float) -> str:
        """The cookie value of a new session."""
        payload = _b64(json.dumps({"n": name, "s": sid, "t": int(now)}, ensure_ascii=False).encode())
        return f"{payload}.{self._sign('session:' + payload)}"

    def read(self, cookie: str | None, *, now: float) -> Session | None:
        """The session a cookie carries; None when it is missing, forged, garbled or expired."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign("session:" + payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["n"]), str(data["s"]), int(data["t"]))
        except (ValueError, KeyError, TypeError):
            return None
        if not 0 <= now - session.issued_at <= SESSION_TTL_S or session.sid in self._ended:
            return None
        return session

    def csrf(self, session: Session) -> str:
        return self._sign("csrf:" + session.sid)

    def login_csrf(self, nonce: str) -> str:
        return self._sign("login:" + nonce)

    @staticmethod
    def same(expected: str, given: str | None) -> bool:
        """A CSRF token check in constant time (a missing token never matches)."""
        return given is not None and hmac.compare_digest(expected.encode(), given.encode())

"""NovaLink logon: password sessions, local file sessions, expiry.

pypowervm's Session logs on with ``PUT /rest/api/web/Logon`` and a
LogonRequest body: with a Password it expects the token in the answer; with
``GenerateX-API-SessionFile`` (local auth, no password) it expects the path
of a file holding the token, which it reads itself. Tokens then travel in
the ``X-API-Session`` header. Expiring tokens (``expire_all`` or a TTL) is
how tests make pypowervm go through its 401 re-logon path.

    auth = Authenticator({"hscroot": "abc123"}, token_dir)
    result = auth.logon(body)          # LogonResult(token=..., file=None)
    auth.valid(token)                  # True
"""

from __future__ import annotations

import os
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as defused_et

__all__ = ["Authenticator", "LogonResult", "LogonError", "BadLogonRequest"]

_WEB = "{http://www.ibm.com/xmlns/systems/power/firmware/web/mc/2012_10/}"


class LogonError(Exception):
    """Wrong user, password or unsupported logon: answered 401."""


class BadLogonRequest(Exception):
    """The LogonRequest body is not what NovaLink accepts: answered 400."""


@dataclass(frozen=True)
class LogonResult:
    token: str
    file: str | None  # set for file auth: the path the answer names


@dataclass
class _Session:
    user: str
    expires_at: float | None


class Authenticator:
    """Issues and checks session tokens; the token file dir is owned by caller."""

    def __init__(self, users: dict[str, str], token_dir: Path,
                 allow_file_auth: bool = True, ttl: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.users = dict(users)
        self.token_dir = token_dir
        self.allow_file_auth = allow_file_auth
        self.ttl = ttl
        self._clock = clock
        self._sessions: dict[str, _Session] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def logon(self, body: bytes) -> LogonResult:
        user, password, wants_file = _parse_logon(body)
        if wants_file:
            if not self.allow_file_auth:
                raise LogonError("local file authentication is disabled")
            token = self._new_session(user)
            return LogonResult(token, self._write_token_file(token))
        if self.users.get(user) != password:
            raise LogonError(f"logon failed for user {user!r}")
        return LogonResult(self._new_session(user), None)

    def _new_session(self, user: str) -> str:
        token = secrets.token_urlsafe(96)
        expires = self._clock() + self.ttl if self.ttl else None
        self._sessions[token] = _Session(user, expires)
        return token

    def _write_token_file(self, token: str) -> str:
        path = self.token_dir / f"token-{secrets.token_hex(8)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return str(path)

    def valid(self, token: str | None) -> bool:
        session = self._sessions.get(token) if token else None
        if session is None:
            return False
        if session.expires_at is not None and self._clock() >= session.expires_at:
            del self._sessions[token]  # type: ignore[arg-type]
            return False
        return True

    def logoff(self, token: str | None) -> bool:
        return self._sessions.pop(token, None) is not None if token else False

    def expire_all(self) -> int:
        """Invalidate every token (the next request of each client gets 401)."""
        count = len(self._sessions)
        self._sessions.clear()
        return count


def _parse_logon(body: bytes) -> tuple[str, str | None, bool]:
    """(user, password, wants session file) from a LogonRequest body."""
    try:
        root = defused_et.fromstring(body)
    except (ET.ParseError, DefusedXmlException) as exc:
        raise BadLogonRequest(f"malformed LogonRequest: {exc}") from None
    if root.tag not in (f"{_WEB}LogonRequest", "LogonRequest"):
        raise BadLogonRequest(f"expected LogonRequest, got {root.tag}")
    user = _text(root, "UserID")
    if not user:
        raise BadLogonRequest("LogonRequest without UserID")
    wants_file = (_text(root, "GenerateX-API-SessionFile") or "").lower() == "true"
    return user, _text(root, "Password"), wants_file


def _text(root: ET.Element, tag: str) -> str | None:
    found = root.find(f"{_WEB}{tag}")
    if found is None:
        found = root.find(tag)
    return None if found is None else (found.text or "")

"""Basic auth of the ``--web.config.file``: bcrypt hashes, checked in constant time per user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

AUTH_CHALLENGE = 'Basic realm="cleanrooms-exporter", charset="UTF-8"'
NEEDS_BCRYPT = "needs the bcrypt package (pip install 'cleanrooms-exporter[auth]')"
BCRYPT_RE = re.compile(r"^\$2[abxy]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_BCRYPT_MAX_BYTES = 72


def bcrypt_cost(hashed: str | bytes) -> int:
    return int(hashed[4:6])


def bcrypt_module() -> Any:
    """The bcrypt module, or ``None``: it is an optional extra, needed only for basic auth."""
    try:
        import bcrypt  # noqa: PLC0415 (optional dependency)
    except ImportError:
        return None
    return bcrypt


class BasicAuth:
    """Checks ``Authorization: Basic`` headers against bcrypt hashes; thread-safe."""

    def __init__(
        self,
        users: Mapping[str, str],
        checkpw: Callable[[bytes, bytes], bool] | None = None,
    ) -> None:
        bcrypt = bcrypt_module()
        if bcrypt is None:
            raise RuntimeError(f"basic auth {NEEDS_BCRYPT}")
        self._users = {user: hashed.encode("ascii") for user, hashed in users.items()}
        self._checkpw: Callable[[bytes, bytes], bool] = checkpw or bcrypt.checkpw
        # Unknown users are checked against this, at the cost of the real
        # hashes, so response time does not tell which user names exist.
        salt = bcrypt.gensalt(rounds=_dummy_cost(self._users.values()))
        self._dummy: bytes = bcrypt.hashpw(secrets.token_bytes(16), salt)
        # One bcrypt at a time (as exporter-toolkit does): a flood of bad
        # credentials then burns one core, not all of them.
        self._bcrypt_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        # user -> keyed SHA-256 of the last credentials that verified. One entry
        # per user bounds the cache; the random key means a memory dump does not
        # give an attacker a fast hash to brute-force instead of bcrypt.
        self._verified: dict[str, bytes] = {}
        self._cache_key = secrets.token_bytes(32)

    def check(self, authorization_header: str | None) -> bool:
        """Whether the header carries a configured user's password; never raises."""
        credentials = _parse_basic(authorization_header)
        if credentials is None:
            return False
        user, password = credentials
        digest = hmac.new(self._cache_key, f"{user}:{password}".encode(), hashlib.sha256).digest()
        with self._cache_lock:
            cached = self._verified.get(user)
        if cached is not None and hmac.compare_digest(cached, digest):
            return True
        if not self._verify(user, password.encode()):
            return False
        with self._cache_lock:
            self._verified[user] = digest
        return True

    def _verify(self, user: str, password: bytes) -> bool:
        known = self._users.get(user)
        # Hashes made by htpasswd and Go only ever saw the first 72 bytes;
        # bcrypt 5 raises on longer passwords instead of truncating.
        password = password[:_BCRYPT_MAX_BYTES]
        with self._bcrypt_lock:
            try:
                matched = self._checkpw(password, known if known is not None else self._dummy)
            except ValueError:
                matched = False
        return matched and known is not None


def _dummy_cost(hashes: Iterable[bytes]) -> int:
    costs = [bcrypt_cost(h) for h in hashes if BCRYPT_RE.match(h.decode("ascii"))]
    return max(costs, default=10)


def _parse_basic(header: str | None) -> tuple[str, str] | None:
    """``(user, password)`` from ``Basic base64(user:password)``, or ``None`` if malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None

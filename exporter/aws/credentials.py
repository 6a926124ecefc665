"""Per-thread credentials, so one client per region can sign for every account.

A botocore client costs about 0.3 MiB and 10 ms to create; one per target would
not scale to thousands of targets. Instead each region has one shared client
whose credentials object asks the calling thread which account it is polling:
the signer calls ``get_frozen_credentials()`` for every attempt, on the thread
that makes the call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.credentials import CredentialProvider, Credentials, ReadOnlyCredentials
from botocore.exceptions import NoCredentialsError

from exporter.core.model import TargetKey


class CallContext(threading.local):
    """What the current thread is doing: which target, with which credentials."""

    target: TargetKey | None = None
    credentials: Credentials | None = None
    started: float | None = None  # the current attempt's start, for its duration

    @contextmanager
    def acting_for(self, target: TargetKey, credentials: Credentials | None) -> Iterator[None]:
        """Run AWS calls for ``target`` with ``credentials``, restoring the outer context after."""
        outer = (self.target, self.credentials)
        self.target, self.credentials = target, credentials
        try:
            yield
        finally:
            self.target, self.credentials = outer


class CurrentCredentials(Credentials):  # type: ignore[misc]
    """The credentials of whichever account the calling thread acts for."""

    def __init__(self, context: CallContext) -> None:
        # The base initialiser stores fixed keys; these are looked up per call instead.
        self._context = context
        self.method = "cleanrooms-exporter"

    def _current(self) -> Credentials:
        credentials = self._context.credentials
        if credentials is None:
            raise NoCredentialsError()
        return credentials

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        return self._current().get_frozen_credentials()

    @property
    def access_key(self) -> str:
        return str(self._current().access_key)

    @property
    def secret_key(self) -> str:
        return str(self._current().secret_key)

    @property
    def token(self) -> str | None:
        token: str | None = self._current().token
        return token


class StaticProvider(CredentialProvider):  # type: ignore[misc]
    """Hands a botocore session one ready-made credentials object."""

    METHOD = "cleanrooms-exporter"
    CANONICAL_NAME = "cleanrooms-exporter"

    def __init__(self, credentials: Any) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Any:
        return self._credentials

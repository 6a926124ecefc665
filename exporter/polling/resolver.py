"""Accounts listed without an id, until STS says whose they are: down placeholders, retried.

A profile that does not exist, credentials that do not work or an STS outage must not
stop the exporter or the other accounts. Such an account is not a target yet (its id is
the target's key); until its id is known it is exported under the primary collector as
a failing placeholder target, ``account_id="accounts[N]"``, one per configured region,
with the reason in ``last_error_info`` and the usual back-off between attempts. Once STS
answers, ``on_resolved`` re-applies the configuration and the account polls as any other.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from exporter.aws.error_codes import SDK_ERRORS, sdk_error
from exporter.config import AccountConfig
from exporter.core.model import CollectorState, PollError, Target, TargetKey
from exporter.polling.failures import backoff_delay, counted_failure
from exporter.polling.targets import MESSAGE_LIMIT, Unresolved

log = logging.getLogger(__name__)

OPERATION = "GetCallerIdentity"
Resolve = Callable[[AccountConfig], str]


def placeholder_targets(item: Unresolved) -> list[Target]:
    """The targets an account stands for until its id is known."""
    account_id = f"accounts[{item.index}]"
    return [Target(account_id, region, item.account.name) for region in item.account.regions]


class AccountResolver:
    """Asks STS for the ids of unresolved accounts, in the background, with back-off."""

    def __init__(
        self,
        resolve: Resolve,
        interval: float,
        on_resolved: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._resolve = resolve
        self._interval = interval
        self._on_resolved = on_resolved
        self._mono = monotonic
        self._wall = wall_clock
        self._lock = threading.Lock()
        self._pending: dict[int, Unresolved] = {}
        self._states: dict[int, list[CollectorState[Any]]] = {}
        self._due: dict[int, float] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set(self, pending: Sequence[Unresolved], interval: float) -> None:
        """The accounts still to resolve (start-up and every re-apply); others are dropped."""
        with self._lock:
            self._interval = interval
            wanted = {item.index: item for item in pending}
            for index in [i for i in self._pending if wanted.get(i) != self._pending[i]]:
                self._forget(index)
            for index, item in wanted.items():
                if index not in self._pending:
                    self._pending[index] = item
                    self._states[index] = [CollectorState(t) for t in placeholder_targets(item)]
                    self._due[index] = self._mono()
        self._wake.set()

    def _forget(self, index: int) -> None:
        del self._pending[index], self._states[index], self._due[index]

    def states(self) -> Mapping[TargetKey, CollectorState[Any]]:
        """The placeholder targets' states, as the primary collector's."""
        with self._lock:
            found = {s.target.key: s for states in self._states.values() for s in states}
        return MappingProxyType(found)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="account-resolver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for item in self._due_now():
                self.attempt(item)
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _due_now(self) -> list[Unresolved]:
        now = self._mono()
        with self._lock:
            return [self._pending[i] for i, at in self._due.items() if at <= now]

    def _next_wait(self) -> float:
        with self._lock:
            waits = [at - self._mono() for at in self._due.values()]
        return max(0.05, min([1.0, *waits]))

    def attempt(self, item: Unresolved) -> bool:
        """One look-up; True when it found the id (the caller re-applies the configuration)."""
        started = self._mono()
        try:
            account_id = self._resolve(item.account)
        except SDK_ERRORS as err:
            self._failed(item, _error(err), started)
            return False
        log.info("%s: account %s", item.where, account_id)
        try:
            # The re-apply finds the id and drops the placeholders through set(): until
            # then they stay, so the exporter is never ready without this account.
            self._on_resolved()
        except Exception as err:  # the resolver thread must outlive a failed re-apply
            log.error("%s: cannot apply its account id: %s", item.where, type(err).__name__)
        with self._lock:
            if item.index in self._due:  # not dropped by the re-apply: try again later
                self._due[item.index] = self._mono() + self._interval
        return True

    def _failed(self, item: Unresolved, error: PollError, started: float) -> None:
        fields = {"operation": error.operation, "error_code": error.code}
        log.warning(
            "%s: cannot resolve the account id: %s", item.where, error.message, extra=fields
        )
        duration = self._mono() - started
        with self._lock:
            states = self._states.get(item.index)
            if states is None:
                return  # dropped by a reload meanwhile
            self._states[item.index] = [counted_failure(s, error, duration) for s in states]
            streak = self._states[item.index][0].consecutive_failures
            self._due[item.index] = self._mono() + backoff_delay(self._interval, streak)


def _error(err: Exception) -> PollError:
    found = sdk_error(err, OPERATION)
    return PollError(found.operation, found.code, found.message[:MESSAGE_LIMIT])

"""The invariants of the chaos run, checked on every scrape of one sequential checker."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]
TargetKey = tuple[str, str]


@dataclass
class Scrape:
    """One parsed /metrics: what the invariants look at."""

    started: float
    ended: float
    text: str
    counters: dict[tuple[str, Labels], float] = field(default_factory=dict)
    up: dict[TargetKey, float] = field(default_factory=dict)
    ok_polls: dict[TargetKey, float] = field(default_factory=dict)
    series: set[tuple[str, str, str, str]] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    values: dict[str, float] = field(default_factory=dict)  # unlabelled gauges and counters

    @classmethod
    def parse(cls, text: str, started: float, ended: float) -> Scrape:
        scrape = cls(started, ended, text)
        polls: dict[TargetKey, float] = {}
        failures: dict[TargetKey, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = sample.labels
                if "account_id" in labels:
                    scrape.accounts.add(labels["account_id"])
                key = (labels.get("account_id", ""), labels.get("region", ""))
                if family.type in ("counter", "histogram"):
                    scrape.counters[(sample.name, tuple(sorted(labels.items())))] = sample.value
                if not labels:
                    scrape.values[sample.name] = sample.value
                if sample.name == "cleanrooms_target_up":
                    scrape.up[key] = sample.value
                elif sample.name == "cleanrooms_target_polls_total":
                    polls[key] = sample.value
                elif sample.name == "cleanrooms_target_poll_failures_total":
                    failures[key] = sample.value
                elif sample.name == "cleanrooms_collaboration_info":
                    scrape.series.add((*key, labels["collaboration_id"], labels["member_status"]))
        scrape.ok_polls = {k: v - failures.get(k, 0.0) for k, v in polls.items()}
        return scrape

    @property
    def discovery_ok_runs(self) -> float:
        runs = self.values.get("cleanrooms_discovery_runs_total", 0.0)
        return runs - self.values.get("cleanrooms_discovery_failures_total", 0.0)


@dataclass
class _Pending:
    """A removal not yet confirmed: waiting for enough successful polls (or discovery runs)."""

    key: tuple[str, ...]  # (account,) or (account, region, collaboration id)
    removed_at: float
    baseline: float | None = None


class Checker:
    """Scrapes back to back and checks every invariant that one scrape can show."""

    def __init__(self, base: str, secrets: Callable[[], list[str]]) -> None:
        self.base = base
        self.secrets = secrets
        self.lock = threading.Lock()
        self.last: Scrape | None = None
        self.scrapes = 0
        self.violations: list[str] = []
        self.decreases = 0
        self.outlived = 0
        self.confirmed_accounts: dict[str, float] = {}  # account -> when its absence is due
        self.confirmed_series: dict[tuple[str, ...], float] = {}
        self._pending_accounts: list[_Pending] = []
        self._pending_series: list[_Pending] = []

    def violation(self, text: str) -> None:
        with self.lock:
            if len(self.violations) < 200:
                self.violations.append(text)

    def scrape(self) -> Scrape:
        started = time.monotonic()
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=30) as response:
            text = response.read().decode()
        return Scrape.parse(text, started, time.monotonic())

    def account_removed(self, account: str, confirmed: bool) -> None:
        """A reload confirmed it (gone from the next scrape), or discovery will in a few runs."""
        now = time.monotonic()
        with self.lock:
            if confirmed:
                self.confirmed_accounts[account] = now
            else:
                self._pending_accounts.append(_Pending((account,), now))

    def collaboration_removed(self, account: str, region: str, collaboration: str) -> None:
        with self.lock:
            self._pending_series.append(
                _Pending((account, region, collaboration), time.monotonic())
            )

    def check_once(self) -> Scrape:
        scrape = self.scrape()
        with self.lock:
            self.scrapes += 1
            self._monotonic(scrape)
            self._outlived(scrape)
            self._confirm(scrape)
            self.last = scrape
        for secret in self.secrets():
            if secret in scrape.text:
                self.violation("a secret in /metrics")
        return scrape

    def _monotonic(self, scrape: Scrape) -> None:
        if self.last is None:
            return
        for key, value in scrape.counters.items():
            before = self.last.counters.get(key)
            if before is not None and value < before:
                self.decreases += 1
                self.violation(f"counter went down: {key} {before} -> {value}")

    def _outlived(self, scrape: Scrape) -> None:
        for account, due in self.confirmed_accounts.items():
            if scrape.started > due and account in scrape.accounts:
                self.outlived += 1
                self.violation(f"series of removed account {account} outlived a scrape")
        present = {(a, r, c) for a, r, c, _ in scrape.series}
        for key, due in list(self.confirmed_series.items()):
            if scrape.started > due and key in present:
                self.outlived += 1
                self.violation(f"removed collaboration {key} outlived a scrape")
            elif scrape.started > due + 60:  # checked for a minute: bound the bookkeeping
                del self.confirmed_series[key]

    def _confirm(self, scrape: Scrape) -> None:
        # Discovery: the run that applies a removal starts after the run counted at
        # baseline+1 ends; its status is published before it is applied, hence +3.
        runs = scrape.discovery_ok_runs
        for pending in list(self._pending_accounts):
            if pending.baseline is None and scrape.started > pending.removed_at:
                pending.baseline = runs
            elif pending.baseline is not None and runs >= pending.baseline + 3:
                self._pending_accounts.remove(pending)
                self.confirmed_accounts[pending.key[0]] = scrape.ended
        # A collaboration: the second successful poll of its target after the removal.
        for pending in list(self._pending_series):
            polls = scrape.ok_polls.get((pending.key[0], pending.key[1]))
            if polls is None:
                if pending.baseline is not None:  # its target is gone: nothing left to check
                    self._pending_series.remove(pending)
            elif pending.baseline is None and scrape.started > pending.removed_at:
                pending.baseline = polls
            elif pending.baseline is not None and polls >= pending.baseline + 2:
                self._pending_series.remove(pending)
                self.confirmed_series[pending.key] = scrape.ended

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(0.2):
            try:
                self.check_once()
            except (OSError, ValueError) as err:
                self.violation(f"checker scrape failed: {type(err).__name__}: {err}")

"""Chaos: one long run in which everything that can happen to the exporter happens at once.

    python -m bench.chaos                          # 30 minutes (the documented run)
    python -m bench.chaos --duration 8 --baseline 3 --checkpoint 0 --scrapers 10   # CI smoke

At random and all at once: AWS faults from the fault matrix come and go per
account; the configuration is rewritten and reloaded (good and bad files, by
POST /-/reload and by SIGHUP); Organizations discovery gains and loses accounts;
collaborations appear, change and vanish; 50 scrapers scrape; hostile clients
open silent, slow and malformed connections; SIGHUP arrives on its own. The
invariants (see docs/reliability.md) are checked throughout; exit 1 if any broke.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.chaos_checks import Checker, Scrape
from bench.chaos_clients import Hostile, ScrapeStats, scraper
from bench.chaos_world import (
    BAD_CONFIGS,
    CORE_ACCOUNTS,
    EXTERNAL_ID,
    FAULTS,
    World,
    describe,
    write_atomically,
)
from bench.common import FAKE_ENV, ExporterProcess, child_pids, exporter, fake_aws, percentile

MAX_CONNECTIONS = 256
READ_TIMEOUT, IDLE_TIMEOUT = 2.0, 10.0
FLAGS = (
    "--log.level",
    "info",
    "--web.max-connections",
    str(MAX_CONNECTIONS),
    "--web.read-timeout",
    f"{READ_TIMEOUT:g}s",
    "--web.idle-timeout",
    f"{IDLE_TIMEOUT:g}s",
)
# Fixed ceilings over the idle process: the connection cap and its eviction headroom
# (one thread and one descriptor each), plus room for the AWS side's pools and polls.
THREADS_OVER_IDLE = MAX_CONNECTIONS + MAX_CONNECTIONS // 8 + 24
FDS_OVER_IDLE = MAX_CONNECTIONS + MAX_CONNECTIONS // 8 + 64
RSS_OVER_IDLE_MIB = 150.0
# Back at idle, the AWS clients may keep a few more pooled keep-alive connections than
# before (accounts came and went); threads must be back exactly.
AWS_POOL_SLACK = 16


def proc_status(pid: int) -> tuple[int, int, float]:
    """Threads, open file descriptors and resident MiB of a process."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return int(fields["Threads"]), fds, int(fields["VmRSS"].split()[0]) / 1024


class Chaos:
    """The actors, each a thread, and the checkpoints that freeze the world to compare."""

    def __init__(self, running: ExporterProcess, world: World, seed: int) -> None:
        self.running = running
        self.world = world
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.checker = Checker(running.base, self.secrets)
        self.scrapes = ScrapeStats()
        self.hostile = Hostile(running.port, random.Random(seed + 1), max_open=3 * MAX_CONNECTIONS)
        self.samples: list[tuple[int, int, float]] = []
        self.reloads = {"good, POST": 0, "good, SIGHUP": 0, "bad, POST": 0, "bad, SIGHUP": 0}
        self.stray_sighups = 0
        self.workers_killed = 0
        self.checkpoints: list[float] = []  # seconds from clearing the faults to the truth

    def secrets(self) -> list[str]:
        with self.world.proxy.lock:
            issued = list(self.world.proxy.issued_secrets)
        return [EXTERNAL_ID, FAKE_ENV["AWS_SECRET_ACCESS_KEY"], *issued]

    def actors(self) -> list[Callable[[], None]]:
        return [
            self.checker_loop,
            self.sample_loop,
            self.fault_loop,
            self.reload_loop,
            self.discovery_loop,
            self.churn_loop,
            self.sighup_loop,
            lambda: self.hostile.run(self.stop),
            *([self.worker_kill_loop] if self.world.workers > 1 else []),
        ]

    def start_scrapers(self, count: int, stop: threading.Event) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=scraper, args=(self.running.port, stop, self.scrapes, i))
            for i in range(count)
        ]
        for thread in threads:
            thread.start()
        return threads

    def every(self, low: float, high: float, action: Callable[[], None]) -> None:
        while not self.stop.wait(self.rng.uniform(low, high)):
            action()

    def checker_loop(self) -> None:
        self.checker.run(self.stop)

    def sample_loop(self) -> None:
        self.every(1.0, 1.0, lambda: self.samples.append(proc_status(self.running.proc.pid)))

    def fault_loop(self) -> None:
        def act() -> None:
            with self.world.lock:
                accounts = [*self.world.static, *self.world.discovered]
                account = self.rng.choice(accounts)
                faults = self.world.faults
                if account in faults.active or len(faults.active) >= len(accounts) // 2:
                    faults.set(account, None)
                else:
                    faults.set(account, self.rng.choice(list(FAULTS)))

        self.every(0.3, 2.0, act)

    def discovery_loop(self) -> None:
        def act() -> None:
            with self.world.lock:
                if not self.world.discovered or (
                    len(self.world.discovered) < 5 and self.rng.random() < 0.5
                ):
                    self.world.discover_one()
                else:
                    removed = self.world.undiscover_one()
                    if removed:
                        self.checker.account_removed(removed, confirmed=False)

        self.every(3.0, 10.0, act)

    def churn_loop(self) -> None:
        def act() -> None:
            with self.world.lock:
                removed = self.world.churn()
            if removed:
                self.checker.collaboration_removed(*removed)

        self.every(0.05, 0.05, act)

    def sighup_loop(self) -> None:
        def act() -> None:
            self.running.proc.send_signal(signal.SIGHUP)
            self.stray_sighups += 1

        self.every(3.0, 20.0, act)

    def worker_kill_loop(self) -> None:
        """SIGKILL a poll worker process now and then: it must come back with its counts."""

        def act() -> None:
            workers = child_pids(self.running.proc.pid)
            if workers:
                try:
                    os.kill(self.rng.choice(workers), signal.SIGKILL)
                except ProcessLookupError:
                    return  # exited meanwhile
                self.workers_killed += 1

        self.every(20.0, 60.0, act)

    def reload_loop(self) -> None:
        self.every(2.0, 8.0, self.reload_once)

    def reload_once(self) -> None:
        with self.world.lock:
            good, by_post = self.rng.random() < 0.6, self.rng.random() < 0.5
            self.reloads[f"{'good' if good else 'bad'}, {'POST' if by_post else 'SIGHUP'}"] += 1
            if not good:
                write_atomically(self.running.config, self.rng.choice(BAD_CONFIGS))
                if by_post:
                    status, body = self.post_reload()
                    if status != 500:
                        self.checker.violation(f"bad config reload answered {status}: {body}")
                else:
                    self.sighup_and_wait(lambda s: s.values.get(_RELOAD_OK) == 0.0)
                return
            accounts = self.next_accounts()
            write_atomically(self.running.config, self.world.config_text(accounts).encode())
            if by_post:
                status, body = self.post_reload()
                if status != 200:
                    self.checker.violation(f"good config reload answered {status}: {body}")
                    return
            else:
                before = self.checker.scrape().values.get(_RELOAD_TIME)
                if not self.sighup_and_wait(lambda s: s.values.get(_RELOAD_TIME) != before):
                    return
            for account in set(self.world.static) - set(accounts):
                self.world.faults.set(account, None)
                self.checker.account_removed(account, confirmed=True)
            self.world.static = accounts

    def next_accounts(self) -> list[str]:
        accounts = list(self.world.static)
        rotating = accounts[CORE_ACCOUNTS:]
        if rotating and self.rng.random() < 0.5:
            accounts.remove(self.rng.choice(rotating))
        if len(rotating) < 4 and self.rng.random() < 0.6:
            accounts.append(self.world.new_static())
        return accounts

    def post_reload(self) -> tuple[int, str]:
        request = urllib.request.Request(f"{self.running.base}/-/reload", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            status, body = err.code, err.read().decode()
        if any(secret in body for secret in self.secrets()):
            self.checker.violation("a secret in a /-/reload answer")
        return status, describe(body)

    def sighup_and_wait(self, applied: Callable[[Scrape], bool]) -> bool:
        self.running.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if applied(self.checker.scrape()):
                return True
            time.sleep(0.1)
        scrape = self.checker.scrape()
        state = scrape.values.get(_RELOAD_OK), scrape.values.get(_RELOAD_TIME)
        self.checker.violation(f"a SIGHUP reload did not show within 20 s (ok, time: {state})")
        return False

    def checkpoint(self, timeout: float = 90.0) -> None:
        """Freeze the world, clear every fault, and wait for the output to equal the truth."""
        with self.world.lock:
            write_atomically(self.running.config, self.world.config_text().encode())
            status, body = self.post_reload()
            if status != 200:
                self.checker.violation(f"checkpoint reload answered {status}: {body}")
            self.world.faults.clear()
            cleared = time.monotonic()
            base = self.checker.scrape()
            series, targets = self.world.truth()
            while time.monotonic() < cleared + timeout:
                scrape = self.checker.scrape()
                if _polled_twice(base, scrape, targets):
                    self.compare(scrape, series, targets)
                    self.checkpoints.append(time.monotonic() - cleared)
                    return
                time.sleep(0.1)
            self.checker.violation(f"checkpoint: targets not polled twice in {timeout:g}s")

    def compare(self, scrape: Scrape, series: set[Any], targets: set[tuple[str, str]]) -> None:
        if set(scrape.up) != targets:
            missing, extra = targets - set(scrape.up), set(scrape.up) - targets
            self.checker.violation(f"checkpoint: targets missing {missing}, extra {extra}")
        down = [k for k, v in scrape.up.items() if v != 1.0]
        if down:
            self.checker.violation(f"checkpoint: targets down after faults cleared: {down}")
        if scrape.series != series:
            diff = len(scrape.series ^ series)
            self.checker.violation(f"checkpoint: {diff} collaboration series differ from moto")


_RELOAD_OK = "cleanrooms_exporter_config_last_reload_successful"
_RELOAD_TIME = "cleanrooms_exporter_config_last_reload_success_timestamp_seconds"


def _polled_twice(base: Scrape, scrape: Scrape, targets: set[tuple[str, str]]) -> bool:
    """Every target's second good poll since ``base``, and discovery's third good run."""
    if scrape.discovery_ok_runs < base.discovery_ok_runs + 3:
        return False
    return all(scrape.ok_polls.get(t, 0.0) >= base.ok_polls.get(t, 0.0) + 2 for t in targets)


def run(args: argparse.Namespace, log_path: Path) -> tuple[Chaos, dict[str, Any]]:
    with fake_aws() as proxy:
        world = World(proxy, random.Random(args.seed), args.size, args.workers)
        with (
            log_path.open("wb") as log,
            exporter(world.config_text(), *FLAGS, stderr=log) as running,
        ):
            chaos = Chaos(running, world, args.seed)
            result = phases(chaos, args)
        result["log"] = log_path.read_text(errors="replace")
        result["secrets"] = chaos.secrets()
        result["exit"] = running.proc.returncode
    return chaos, result


def phases(chaos: Chaos, args: argparse.Namespace) -> dict[str, Any]:
    quiet = threading.Event()
    scrapers = chaos.start_scrapers(args.scrapers, quiet)
    time.sleep(args.baseline)
    quiet.set()
    for thread in scrapers:
        thread.join()
    baseline = list(chaos.scrapes.latencies)
    chaos.scrapes = ScrapeStats()
    idle = proc_status(chaos.running.proc.pid)
    actors = [threading.Thread(target=actor) for actor in chaos.actors()]
    scrapers = chaos.start_scrapers(args.scrapers, chaos.stop)
    for thread in actors:
        thread.start()
    began = time.monotonic()
    next_checkpoint = began + args.checkpoint if args.checkpoint else float("inf")
    while time.monotonic() < began + args.duration:
        time.sleep(1)
        if time.monotonic() >= next_checkpoint:
            chaos.checkpoint()
            next_checkpoint += args.checkpoint
    chaos.checkpoint()
    took = time.monotonic() - began
    chaos.stop.set()
    for thread in [*actors, *scrapers]:
        thread.join()
    gone = time.monotonic()
    settled = gone + READ_TIMEOUT + IDLE_TIMEOUT + 5
    while time.monotonic() < settled:  # every client gone: back to the idle process?
        after = proc_status(chaos.running.proc.pid)
        if after[0] <= idle[0] + 2 and after[1] <= idle[1] + AWS_POOL_SLACK:
            break
        time.sleep(0.2)
    else:
        chaos.checker.violation(f"not back to idle threads and descriptors: {after} vs {idle}")
    back = time.monotonic() - gone
    final = chaos.checker.scrape()
    return {
        "baseline": baseline,
        "idle": idle,
        "after": after,
        "back": back,
        "took": took,
        "final": final,
    }


def _log_violations(chaos: Chaos, result: dict[str, Any]) -> tuple[int, int]:
    """Tracebacks and secrets in the log, a bad exit, failed scrapes, wrong answers."""
    checker, scrapes, hostile = chaos.checker, chaos.scrapes, chaos.hostile
    log_text: str = result["log"]
    tracebacks = log_text.count("Traceback") + log_text.count('  File "')
    leaked = sum(secret in log_text for secret in result["secrets"])
    if tracebacks:
        checker.violation(f"{tracebacks} traceback lines in the log")
    if leaked:
        checker.violation(f"{leaked} secrets in the log")
    if result["exit"] != 0:
        checker.violation(f"exporter exited with {result['exit']} on SIGTERM")
    if scrapes.failed:
        checker.violation(f"{len(scrapes.failed)} scrapes failed: {scrapes.failed[:5]}")
    if hostile.wrong:
        checker.violation(f"{len(hostile.wrong)} wrong answers to malformed requests")
        checker.violation(f"for example: {hostile.wrong[:3]}")
    return tracebacks, leaked


def report(chaos: Chaos, args: argparse.Namespace, result: dict[str, Any]) -> int:
    checker, scrapes, hostile, world = chaos.checker, chaos.scrapes, chaos.hostile, chaos.world
    idle, after, final = result["idle"], result["after"], result["final"]
    log_text: str = result["log"]
    tracebacks, leaked = _log_violations(chaos, result)
    resources = resource_rows(chaos.samples, idle, after, checker.violation)
    chaos_p50, chaos_p99 = percentile(scrapes.latencies, 0.5), percentile(scrapes.latencies, 0.99)
    base_p50, base_p99 = percentile(result["baseline"], 0.5), percentile(result["baseline"], 0.99)
    rejected = {
        dict(labels)["reason"]: value
        for (name, labels), value in final.counters.items()
        if name == "cleanrooms_exporter_http_requests_rejected_total"
    }
    rows = [
        (
            "run",
            f"{result['took']:.0f} s of chaos after {args.baseline:g} s quiet, seed {args.seed}",
        ),
        ("scrapes by the 50 scrapers (status: count)", dict(sorted(scrapes.statuses.items()))),
        ("scrapes that failed twice in a row", len(scrapes.failed)),
        ("scrapes answered on a retry (keep-alive connection closed)", scrapes.retried),
        ("/metrics p50 ms: quiet, chaos, ratio", _ratio(base_p50, chaos_p50)),
        ("/metrics p99 ms: quiet, chaos, ratio", _ratio(base_p99, chaos_p99)),
        ("checker scrapes (sequential, every invariant)", checker.scrapes),
        ("counter decreases", checker.decreases),
        ("series outliving a removed account or collaboration", checker.outlived),
        (
            "checkpoints equal to moto's truth",
            f"{len(chaos.checkpoints)}, after "
            f"{max(chaos.checkpoints, default=0):.1f} s at most (2 good polls per target)",
        ),
        ("faults injected", world.faults.injected),
        ("reloads", chaos.reloads),
        ("SIGHUPs on their own", chaos.stray_sighups),
        (
            "poll workers (poll_workers), and how many were killed",
            f"{world.workers}, {chaos.workers_killed}",
        ),
        ("discovery and collaboration changes", world.counts),
        ("hostile connections opened", hostile.opened),
        ("malformed requests answered right", dict(sorted(hostile.answers.items()))),
        ("malformed requests answered wrong", len(hostile.wrong)),
        ("malformed requests cut off before an answer", hostile.unanswered),
        ("rejected (cleanrooms_exporter_http_requests_rejected_total)", rejected),
        *resources,
        ("seconds until back to idle threads and descriptors", f"{result['back']:.1f}"),
        ("traceback lines in the log", tracebacks),
        ("secrets in the log (in /metrics and /-/reload answers: a violation each)", leaked),
        ("exit code on SIGTERM", result["exit"]),
    ]
    return _print(checker, rows, log_text)


def _print(checker: Checker, rows: list[tuple[str, Any]], log_text: str) -> int:
    print("| measure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    for violation in checker.violations[:50]:
        print(f"VIOLATION: {violation}")
    if checker.violations:  # the exporter's side of the story
        print("\n".join(log_text.splitlines()[-40:]))
    print("all invariants held" if not checker.violations else "INVARIANTS BROKEN")
    return 0 if not checker.violations else 1


def _ratio(baseline: float, value: float) -> str:
    return f"{baseline * 1000:.1f}, {value * 1000:.1f}, {value / baseline:.2f}"


def resource_rows(
    samples: list[tuple[int, int, float]],
    idle: tuple[int, int, float],
    after: tuple[int, int, float],
    violation: Callable[[str], None],
) -> list[tuple[str, str]]:
    rows = []
    ceilings = (idle[0] + THREADS_OVER_IDLE, idle[1] + FDS_OVER_IDLE, idle[2] + RSS_OVER_IDLE_MIB)
    quarter = max(1, len(samples) // 4)
    for index, name in enumerate(("threads", "file descriptors", "RSS MiB")):
        values = [s[index] for s in samples] or [idle[index]]
        early = statistics.median(values[quarter : 2 * quarter] or values)
        late = statistics.median(values[-quarter:])
        peak = max(values)
        if peak > ceilings[index]:
            violation(f"{name} peaked at {peak:g}, above the ceiling {ceilings[index]:g}")
        rows.append(
            (
                f"{name}: idle, peak (ceiling), early, late, late/early, after the clients left",
                f"{idle[index]:.0f}, {peak:.0f} ({ceilings[index]:.0f}), {early:.0f}, "
                f"{late:.0f}, {late / early:.3f}, {after[index]:.0f}",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=1800, help="seconds of chaos")
    parser.add_argument("--baseline", type=float, default=30, help="quiet seconds before")
    parser.add_argument("--checkpoint", type=float, default=300, help="seconds between; 0: end")
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--size", type=int, default=8, help="collaborations per target")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=1, help="poll_workers; >1 kills some")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    with tempfile.TemporaryDirectory() as tmp:
        chaos, result = run(args, Path(tmp) / "exporter.log")
    return report(chaos, args, result)


if __name__ == "__main__":
    sys.exit(main())

"""Poll worker processes behind one /metrics: ownership, same output, reload, restarts, exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.common import child_pids
from exporter.app import App
from exporter.config import parse_config
from exporter.demo.fake.analyses_store import QUERIES
from exporter.demo.fake.service import FakeCleanRooms
from exporter.polling.cores import resolve_workers
from exporter.polling.sharding import worker_concurrency, worker_of
from tests.e2e.test_cli import free_port
from tests.faultproxy import wait_for
from tests.helpers import Seeder, role, value

COLLECTORS = (
    "collectors: {memberships: {enabled: true}, members: {enabled: true},"
    " protected_queries: {enabled: true}}\n"
)
# Series whose value is a time or a duration: equal only by chance between two runs.
TIMED = ("_seconds", "_timestamp", "duration")


def accounts_block(accounts: list[str]) -> str:
    return "accounts:\n" + "".join(
        f"  - role_arn: {role(a)}\n    regions: [us-east-1, eu-west-2]\n" for a in accounts
    )


def samples(app: App) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(app.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if family.name.startswith("cleanrooms_")
        and not family.name.startswith("cleanrooms_exporter_")
        and not any(word in s.name for word in TIMED)
    }


def untimed(exposition: bytes) -> list[bytes]:
    """The lines of an exposition but the ages, which move between two renders."""
    return [line for line in exposition.splitlines() if b"_age_seconds" not in line]


def polled_twice(app: App) -> bool:
    snapshot = app.poller.snapshot
    states = [*snapshot.states.values()]
    states += [s for found in snapshot.collectors.values() for s in found.values()]
    return all(s.polls >= 2 for s in states)


def test_two_workers_export_what_one_process_exports(
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    accounts = [new_account() for _ in range(5)]
    for i, account in enumerate(accounts):
        seeder.statuses(account, "us-east-1", INVITED=i, ACTIVE=1, LEFT=1)
        seeder.statuses(account, "eu-west-2", ACTIVE=i + 1)
    body = accounts_block(accounts) + COLLECTORS
    single = run_exporter(fake.url, body)
    pooled = run_exporter(fake.url, body + "poll_workers: 2\n")
    assert pooled.pool is not None
    assert single.pool is None
    assert len(pooled.poller.snapshot.states) == 10
    want = samples(single)
    assert want == samples(pooled)
    # A second round finds nothing new: the workers ship states without their data,
    # and /metrics still has every collaboration.
    for app in (single, pooled):
        app.poller.poll_all_now()
    # Polls and API counters arrive in a few messages: wait until both sides agree.
    wait_for(lambda: samples(single) == samples(pooled) and polled_twice(pooled), timeout=20)
    assert samples(single) == samples(pooled)
    assert (
        samples(pooled)[
            (
                "cleanrooms_collaborations",
                (
                    ("account_id", accounts[4]),
                    ("member_status", "INVITED"),
                    ("region", "us-east-1"),
                ),
            )
        ]
        == 4
    )
    # The cached renderer still writes exactly what the library writes.
    body_bytes, _ = pooled.renderer.render("text/plain")
    assert untimed(body_bytes) == untimed(generate_latest(pooled.registry))
    assert value(pooled, "cleanrooms_exporter_poll_worker_up", worker="0") == 1
    assert value(pooled, "cleanrooms_exporter_poll_worker_up", worker="1") == 1
    owned = [value(pooled, "cleanrooms_exporter_poll_worker_targets", worker=w) for w in "01"]
    assert sum(v or 0 for v in owned) == 10
    assert len({p for p in pooled.pool.pids() if p}) == 2


def test_reload_adds_and_removes_targets_and_refuses_a_new_worker_count(
    fake: FakeCleanRooms, seeder: Seeder, new_account: Callable[[], str], tmp_path: Path
) -> None:
    a, b, c = new_account(), new_account(), new_account()
    for account in (a, b, c):
        seeder.statuses(account, "us-east-1", INVITED=1)
    path = tmp_path / "config.yaml"
    head = f"aws: {{endpoint_url: '{fake.url}'}}\npoll_workers: 2\n"
    path.write_text(head + accounts_block([a, b]))
    app = App(parse_config(path.read_text(), {}), lambda: parse_config(path.read_text(), {}))
    app.start()
    try:
        # Not ready while the workers start: nothing polled yet, though nothing is missing.
        assert not app.ready()
        assert app.wait_ready(30)
        assert app.ready()
        path.write_text(head + accounts_block([b, c]))
        assert app.reload() == (True, "reloaded: 4 targets")
        # Gone at once, not at the worker's next message; the new one once polled.
        assert all(key[0] != a for key in app.poller.snapshot.states)
        assert app.wait_ready(30)
        assert {key[0] for key in app.poller.snapshot.states} == {b, c}
        requests = "cleanrooms_api_requests_total"
        where = {"account_id": c, "region": "eu-west-2", "operation": "ListCollaborations"}
        wait_for(lambda: value(app, requests, **where) == 1)
        assert value(app, requests, **{**where, "account_id": a}) is None

        path.write_text(head.replace("poll_workers: 2", "poll_workers: 3") + accounts_block([b]))
        ok, why = app.reload()
        assert not ok
        assert "poll_workers: 2 -> 3 needs a restart" in why
        assert {key[0] for key in app.poller.snapshot.states} == {b, c}  # kept running
    finally:
        app.stop()


def test_a_killed_worker_is_restarted_and_no_counter_falls_or_counts_twice(
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    accounts = [new_account() for _ in range(4)]
    key = None
    for account in accounts:
        collaboration = seeder.add(account, "us-east-1", "ACTIVE")
        key = (account, "us-east-1", collaboration.membership_id)
        fake.analyses.add_query(key, time.time() - 60, "STARTED")
    assert key is not None
    app = run_exporter(fake.url, accounts_block(accounts) + COLLECTORS + "poll_workers: 2\n")
    pool = app.pool
    assert pool is not None
    where = {"account_id": key[0], "region": "us-east-1"}
    finished = "cleanrooms_protected_queries_finished_total"
    query_labels = {**where, "membership_id": key[2], "status": "FAILED"}
    query_labels["collaboration_id"] = collaboration.id
    running = fake.analyses.add_query(key, time.time(), "STARTED")
    app.poller.poll_all_now()
    polls = {**where, "collector": "protected_queries"}
    wait_for(lambda: (value(app, "cleanrooms_collector_polls_total", **polls) or 0) >= 2)
    fake.analyses.set_status(QUERIES, key, running, "FAILED")
    app.poller.poll_all_now()
    wait_for(lambda: value(app, finished, **query_labels) == 1)
    before = samples(app)
    owner = worker_of(key[0], 2)
    victim = pool.pids()[owner]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    restarts = "cleanrooms_exporter_poll_worker_restarts_total"
    wait_for(lambda: value(app, restarts, worker=str(owner)) == 1, timeout=30)
    wait_for(lambda: pool.pids()[owner] not in (None, victim), timeout=30)
    assert value(app, "cleanrooms_exporter_poll_worker_up", worker=str(owner)) == 1
    assert pool.wait_ready(30)
    # The restarted worker polls its targets at once, carrying on from what it shipped.
    wait_for(
        lambda: (
            (value(app, "cleanrooms_collector_polls_total", **polls) or 0)
            > before[("cleanrooms_collector_polls_total", tuple(sorted(polls.items())))]
        ),
        timeout=30,
    )
    after = samples(app)
    for name, labels in before:
        if name.endswith("_total"):
            assert after[(name, labels)] >= before[(name, labels)], (name, labels)
    assert value(app, finished, **query_labels) == 1  # the query is not counted again


def test_the_workers_exit_with_the_exporter_whether_stopped_or_killed(
    fake: FakeCleanRooms, seeder: Seeder, new_account: Callable[[], str], tmp_path: Path
) -> None:
    accounts = [new_account() for _ in range(3)]
    path = tmp_path / "config.yaml"
    head = f"aws: {{endpoint_url: '{fake.url}'}}\npoll_workers: 2\n"
    path.write_text(head + accounts_block(accounts))
    for stop in (signal.SIGTERM, signal.SIGKILL):
        port = free_port()
        command = ["-m", "exporter", "--config.file", str(path)]
        command += ["--web.listen-address", f"127.0.0.1:{port}"]
        proc = subprocess.Popen([sys.executable, *command], stderr=subprocess.PIPE, text=True)
        try:
            # Ready: each worker has been given its share and has said so in the log.
            wait_for(lambda: ready(port), timeout=30)  # noqa: B023 (used at once)
            wait_for(lambda: len(child_pids(proc.pid)) == 2, timeout=30)  # noqa: B023
            workers = child_pids(proc.pid)
            proc.send_signal(stop)
            _, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if stop == signal.SIGTERM:
            assert proc.returncode == 0, err
            # Each worker's log lines say which worker wrote them.
            assert {"worker=0", "worker=1"} <= set(err.split())
        wait_for(lambda: not any(alive(p) for p in workers), timeout=10)  # noqa: B023


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_poll_workers_is_checked_and_reported(tmp_path: Path) -> None:
    assert parse_config("", {}).poll_workers == 1
    path = tmp_path / "config.yaml"
    path.write_text("poll_workers: 3\nconcurrency: 16\n")
    command = [sys.executable, "-m", "exporter", "--config.check", "--config.file", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "poll workers: 3 processes, 6 threads each\n" in done.stdout
    path.write_text("poll_workers: auto\nconcurrency: 16\n")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    cores = resolve_workers("auto")  # this machine's, as the child process sees them
    if cores > 1:
        threads = worker_concurrency(16, cores)
        line = f"{cores} processes (auto: {cores} usable cores), {threads} threads each"
    else:
        line = "none (auto: 1 usable core), 16 threads in this process"
    assert f"poll workers: {line}\n" in done.stdout
    bad_values = (("0", "must be greater than zero"), ("two", "must be a positive integer or auto"))
    for bad, message in bad_values:
        path.write_text(f"poll_workers: {bad}\n")
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2
        assert f"poll_workers: {message}" in done.stderr


def test_the_workers_schedule_lags_add_up_and_survive_a_restart(
    fake: FakeCleanRooms, run_exporter: Callable[..., App], new_account: Callable[[], str]
) -> None:
    accounts = [new_account() for _ in range(4)]
    while {worker_of(a, 2) for a in accounts} != {0, 1}:  # each worker must own one
        accounts.append(new_account())
    body = accounts_block(accounts) + "poll_interval: 200ms\npoll_workers: 2\n"
    app = run_exporter(fake.url, body)
    pool = app.pool
    assert pool is not None
    count = "cleanrooms_exporter_poll_lag_ratio_count"
    # Both workers' scheduled polls reach /metrics, summed under one collector label.
    wait_for(lambda: all(h.lags.get("collaborations") for h in pool._handles), timeout=20)
    handles = [h.lags["collaborations"].count for h in pool._handles]
    total = value(app, count, collector="collaborations") or 0
    assert total >= sum(handles) > 0
    victim = pool.pids()[0]
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: pool.pids()[0] not in (None, victim), timeout=30)
    # The dead worker's last message; the new one takes a second to start polling.
    shipped = pool._handles[0].lags
    assert pool.wait_ready(30)
    wait_for(lambda: pool._handles[0].lags is not shipped, timeout=20)
    # The restarted worker carried its lags on: its first message counts no fewer.
    restarted = pool._handles[0].lags["collaborations"].count
    assert restarted >= shipped["collaborations"].count
    assert (value(app, count, collector="collaborations") or 0) >= total

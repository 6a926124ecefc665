"""Every collector on at organisation scale: scrapes while polls run, memory, calls, CPU.

Run through ``bench.scale --collectors all`` (each size in its own process). The
exporter polls every collector of every target every ``--interval`` against the
stand-in, whose ListCollaborations answers have ``--memberships`` ACTIVE memberships
per target and whose other list operations answer one page of 25 summaries. It serves
``/metrics`` on loopback as in production; a scraper fetches it every
``--scrape-every`` seconds for ``--load-seconds`` while the polls run. Baselines from
the same run: prometheus_client's own rendering of the same registry once the polls
have stopped (a quiet process), and a stock botocore ListCollaborations call.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.calls import (
    cpu_and_switches,
    cpu_per_call,
    peak_rss_mib,
    stock_caller,
    wait_warm,
    worker_pids,
)


# Calls of one round per collector, as (per target, per ACTIVE membership), for the
# stand-in's answers: one page each, no analysis finishing (so no Get calls). These are
# docs/collectors.md's formulas with every ceil(n / 100) equal to 1; privacy_budgets
# lists each of its two budget types, ml_audiences three kinds of resource.
@dataclass
class OrgResult:
    targets: int
    memberships: int
    series: int
    scrapes: int
    scrape_median_ms: float
    scrape_worst_ms: float
    library_ms: float
    peak_rss_mib: float
    calls_per_s: float
    cpu_ms_per_call: float
    stock_ms: float
    # collector (or collectors sharing an operation) -> [calls in one round, the formula's]
    round_calls: dict[str, list[int]] = field(default_factory=dict)


def chosen(collectors: str) -> tuple[str, ...]:
    """``all``, or a comma list of collector names (collaborations is always on)."""
    from exporter.collectors import BY_NAME, REGISTRY

    if collectors == "all":
        return tuple(spec.name for spec in REGISTRY)
    names = ("collaborations", *(n for n in collectors.split(",") if n != "collaborations"))
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown collectors: {', '.join(unknown)}")
    return tuple(names)


def config_text(
    endpoint: str,
    interval: str,
    concurrency: int,
    workers: int,
    names: tuple[str, ...],
    stale: str = "5m",
) -> str:
    from exporter.collectors import REGISTRY

    collectors = ", ".join(
        f"{spec.name}: {{enabled: {str(spec.name in names).lower()}, interval: {interval}}}"
        for spec in REGISTRY
        if not spec.polling.primary
    )
    return (
        f"poll_interval: {interval}\nstale_after: {stale}\nconcurrency: {concurrency}\n"
        + (f"poll_workers: {workers}\n" if workers != 1 else "")
        + "regions: [us-east-1, eu-west-2]\n"
        f"aws: {{endpoint_url: '{endpoint}', max_attempts: 2}}\n"
        "discovery: {organizations: {role_name: CleanRoomsReadOnly}}\n"
        # A round of every collector is about 55 calls per target; the default of 2 a
        # second per target would make the rate limiter, not the exporter, the subject.
        "rate_limit: {requests_per_second: 20, burst: 40}\n"
        f"collectors: {{{collectors}}}\n"
    )


def rows() -> dict[str, str]:
    """Collector -> the row its calls are counted in: its name, or, for collectors that call
    an operation in common (ml_collaboration_trained_models and ml_model_exports both list a
    collaboration's trained models), their names joined, as the stand-in cannot tell whose
    call it answers. Each row's formula is the sum of its collectors'."""
    from exporter.collectors import REGISTRY

    merged: list[list[str]] = []
    for spec in REGISTRY:
        ops = set(spec.polling.operations)
        sharing = [m for m in merged if any(ops & _operations(n) for n in m)]
        group = [n for m in sharing for n in m] + [spec.name]
        merged = [m for m in merged if m not in sharing] + [group]
    return {name: " + ".join(group) for group in merged for name in group}


def _operations(name: str) -> set[str]:
    from exporter.collectors import BY_NAME

    return set(BY_NAME[name].polling.operations)


def owners() -> dict[str, str]:
    """Operation -> the row (``rows``) of the collectors that call it."""
    from exporter.collectors import REGISTRY

    row = rows()
    return {op: row[spec.name] for spec in REGISTRY for op in spec.polling.operations}


def by_collector(calls: dict[str, int]) -> Counter[str]:
    owner = owners()
    found: Counter[str] = Counter()
    for operation, count in calls.items():
        if operation in owner:
            found[owner[operation]] += count
    return found


def polls(app: Any) -> dict[tuple[str, Any], int]:
    snapshot = app.poller.snapshot
    return {
        (name, key): state.polls
        for name, states in snapshot.by_collector().items()
        for key, state in states.items()
    }


def one_round(app: Any, endpoint: str, counts: Any) -> Counter[str]:
    """Every collector of every target polled once more; the calls it made, per collector.

    Run with an interval far longer than the round, and started once no call has been
    made for a second: no scheduled poll, nor one in flight (the fan-out collectors'
    first, just after ready), adds calls to the round's count.
    """
    seen, quiet_by = counts(endpoint), time.monotonic() + 300
    while time.sleep(1.0) or seen != (now := counts(endpoint)):
        seen = now
        if time.monotonic() > quiet_by:
            raise RuntimeError("the exporter never went quiet: is the interval long enough?")
    counts(endpoint, reset=True)
    before = polls(app)
    app.poller.poll_all_now()
    while any(n <= before.get(job, 0) for job, n in polls(app).items()):
        time.sleep(0.05)
    return by_collector(counts(endpoint))


def scrape_under_load(base: str, seconds: float, every: float) -> tuple[list[float], int]:
    """Scrape every ``every`` seconds for ``seconds`` from another process, as Prometheus."""
    command = [sys.executable, "-m", "bench.scraper", base, "--seconds", str(seconds)]
    done = subprocess.run(
        [*command, "--every", str(every)], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return list(found["times"]), int(found["series"])


def serve(app: Any) -> tuple[Any, str]:
    from exporter.cli.serve import bind
    from exporter.web.guard import WebGuard
    from exporter.web.tlsconfig import WebConfig

    server = bind(("127.0.0.1", 0), app, WebConfig(), WebGuard())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def cpu(workers: list[int | str]) -> float:
    """CPU seconds of this process (every thread, ``process_time``) and of the workers."""
    return cpu_and_switches(["self", *workers])[0]


def formula(targets: int, memberships: int, names: tuple[str, ...]) -> dict[str, int]:
    """Calls of one round of each row (``rows``), by its collectors' formulas (every listing
    one page)."""
    from exporter.collectors import BY_NAME

    row, found = rows(), Counter[str]()
    for name in names:
        found[row[name]] += BY_NAME[name].polling.calls.minimum(memberships) * targets
    return dict(found)


def first_round(app: Any, endpoint: str) -> dict[str, int]:
    """Start, count the calls of one round, then reload to the load's interval."""
    from bench.common import counts

    app.start()
    app.wait_ready()
    wait_warm(app)
    round_calls = one_round(app, endpoint, counts)
    ok, why = app.reload()
    if not ok:
        raise RuntimeError(f"reload to the load's interval failed: {why}")
    counts(endpoint, reset=True)
    return round_calls


def measure_all(
    targets: int,
    latency: float,
    concurrency: int,
    workers: int,
    memberships: int,
    interval: str,
    load_seconds: float,
    scrape_every: float,
    names: tuple[str, ...],
) -> OrgResult:
    """One size, in this process: the caller runs it in a fresh one."""
    from prometheus_client.exposition import generate_latest

    from bench.common import counts, median_ms, standin
    from exporter.app import App
    from exporter.config import parse_config

    with standin(targets // 2, latency, memberships) as endpoint:
        # The counted round runs on a 1h interval; a reload then sets the load's.
        texts = [config_text(endpoint, interval, concurrency, workers, names)]
        texts.append(config_text(endpoint, "1h", concurrency, workers, names, stale="2h"))
        app = App(parse_config(texts[-1], {}), config_source=lambda: parse_config(texts[0], {}))
        server, base = serve(app)
        round_calls = first_round(app, endpoint)
        app.poller.poll_all_now()  # the load starts as after a start: every poll due
        workers_pids: list[int | str] = [p for p in worker_pids(app) if p]
        cpu_before = cpu(workers_pids)
        began = time.perf_counter()
        times, exported = scrape_under_load(base, load_seconds, scrape_every)
        wall = time.perf_counter() - began
        cpu_after = cpu(workers_pids)
        load_calls = sum(by_collector(counts(endpoint)).values())
        peak = sum(peak_rss_mib(pid) for pid in ["self", *workers_pids])
        server.shutdown()
        app.stop()
        library = median_ms(lambda: generate_latest(app.registry), 3)
        stock = cpu_per_call(stock_caller(endpoint, "ListCollaborations"), 100)
    expected = formula(targets, memberships, names)
    times.sort()
    return OrgResult(
        targets=targets,
        memberships=targets * memberships,
        series=exported,
        scrapes=len(times),
        scrape_median_ms=times[len(times) // 2] * 1000,
        scrape_worst_ms=times[-1] * 1000,
        library_ms=library,
        peak_rss_mib=peak,
        calls_per_s=load_calls / wall,
        cpu_ms_per_call=(cpu_after - cpu_before) / max(load_calls, 1) * 1000,
        stock_ms=stock * 1000,
        round_calls={name: [round_calls[name], expected[name]] for name in expected},
    )


def org_table(results: list[OrgResult], latency: float, interval: str) -> str:
    lines = [
        f"Every collector every {interval}, stand-in latency {latency * 1000:g} ms; "
        "scrapes of /metrics over loopback while the polls run.",
        "",
        "| targets | memberships | series | scrapes | /metrics median ms | worst ms "
        "| library ms | median / library | peak RSS MiB | Clean Rooms calls/s "
        "| CPU ms per call | stock ms | per call / stock | round calls = formula |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        exact = all(got == want for got, want in r.round_calls.values())
        lines.append(
            f"| {r.targets} | {r.memberships} | {r.series} | {r.scrapes} "
            f"| {r.scrape_median_ms:.0f} | {r.scrape_worst_ms:.0f} | {r.library_ms:.0f} "
            f"| {r.scrape_median_ms / r.library_ms:.3f} | {r.peak_rss_mib:.0f} "
            f"| {r.calls_per_s:.0f} | {r.cpu_ms_per_call:.2f} | {r.stock_ms:.2f} "
            f"| {r.cpu_ms_per_call / r.stock_ms:.2f} | {'yes' if exact else 'NO'} |"
        )
    lines += ["", "Calls in one round, per collector (formula):", ""]
    lines += ["| collector | " + " | ".join(f"{r.targets} targets" for r in results) + " |"]
    lines += ["|---|" + "---:|" * len(results)]
    for name in results[0].round_calls:
        cells = " | ".join(f"{r.round_calls[name][0]} ({r.round_calls[name][1]})" for r in results)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)

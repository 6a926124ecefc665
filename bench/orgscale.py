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
from bench.orgmetrics import (
    LAG,
    SERIES,
    Lag,
    fetch,
    formula_per_second,
    interval_seconds,
    lags,
    series_by_collector,
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
    calls_per_s: float  # over the measured window (``window``), every collector's
    formula_per_s: float  # what the formulas ask for: a round per interval
    cpu_ms_per_call: float
    stock_ms: float
    interval: str = "30s"
    workers: str = "1"  # poll_workers: a number, or auto
    window: list[float] = field(default_factory=list)  # [start, end] s after the load began
    # collector (or collectors sharing an operation) -> [calls in one round, the formula's]
    round_calls: dict[str, list[int]] = field(default_factory=dict)
    # row (``rows``) -> [calls a second in the window, the formula's]
    rates: dict[str, list[float]] = field(default_factory=dict)
    series_by_collector: dict[str, int] = field(default_factory=dict)
    # collector -> [polls in the window, those later than a tenth of their interval, worst]
    lag: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def late(self) -> int:
        return sum(int(found[1]) for found in self.lag.values())

    @property
    def polls(self) -> int:
        return sum(int(found[0]) for found in self.lag.values())


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
    workers: int | str,
    names: tuple[str, ...],
    stale: str = "5m",
) -> str:
    from exporter.collectors import REGISTRY

    own = "" if interval == "default" else f", interval: {interval}"  # default: each its own
    collectors = ", ".join(
        f"{spec.name}: {{enabled: {str(spec.name in names).lower()}{own}}}"
        for spec in REGISTRY
        if not spec.polling.primary
    )
    every = "" if interval == "default" else f"poll_interval: {interval}\n"
    return (
        f"{every}stale_after: {stale}\nconcurrency: {concurrency}\n"
        + (f"poll_workers: {workers}\n" if str(workers) != "1" else "")
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


def start_scraper(base: str, seconds: float, every: float) -> subprocess.Popen[str]:
    """Scrape every ``every`` seconds for ``seconds`` from another process, as Prometheus."""
    command = [sys.executable, "-m", "bench.scraper", base, "--seconds", str(seconds)]
    return subprocess.Popen([*command, "--every", str(every)], stdout=subprocess.PIPE, text=True)


def scraped(scraper: subprocess.Popen[str]) -> tuple[list[float], int]:
    """Each scrape's seconds, and the series of the last answer."""
    out, _ = scraper.communicate()
    if scraper.returncode != 0:
        raise RuntimeError(f"the scraper failed with {scraper.returncode}")
    found = json.loads(out.strip().splitlines()[-1])
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


def by_row(per_collector: dict[str, float]) -> dict[str, float]:
    """Figures per collector summed per row (``rows``): collectors sharing an operation."""
    row, found = rows(), Counter[str]()
    for name, figure in per_collector.items():
        found[row[name]] += figure  # type: ignore[assignment]
    return dict(found)


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


@dataclass(frozen=True)
class Load:
    """The scraped load: how long, how often, at which interval, which collectors."""

    interval: str
    seconds: float
    every: float
    names: tuple[str, ...]

    def intervals(self) -> dict[str, float]:
        """Each collector's interval in the run."""
        from exporter.collectors import BY_NAME
        from exporter.config.settings import Config

        every = Config().poll_interval
        return {
            n: interval_seconds(self.interval, BY_NAME[n].polling.default_interval, every)
            for n in self.names
        }

    def window(self) -> tuple[float, float]:
        """When, after the load began, calls and lags are counted.

        Whole intervals of every collector that fits twice in the load (the longest such),
        half the shortest interval away from the rounds that the load's start set off, so
        that drift and jitter move no round in or out. A load too short for any counts from
        half the shortest interval to its end.
        """
        found = self.intervals().values()
        shortest = min(found)
        fitting = [i for i in found if 2 * i + shortest / 2 <= self.seconds]
        if not fitting:
            return shortest / 2, self.seconds
        return max(fitting) + shortest / 2, 2 * max(fitting) + shortest / 2

    def counted(self) -> set[str]:
        """The collectors whose rounds the window holds whole: the rest have no formula."""
        start, end = self.window()
        length = end - start
        return {
            n
            for n, i in self.intervals().items()
            if i <= length and abs(length / i - round(length / i)) < 1e-6
        }


@dataclass
class Loaded:
    """What the load measured."""

    times: list[float]
    exported: int
    wall: float
    cpu: float
    calls: int  # every collector's, the whole load
    window: tuple[float, float]
    in_window: Counter[str]  # calls per collector within the window
    lag: dict[str, Lag]
    series: dict[str, int]
    peak: float


def reading(base: str, endpoint: str, at: float) -> tuple[Counter[str], str]:
    """At ``at`` (monotonic): the calls so far per collector, and the lag histograms."""
    from bench.common import counts

    time.sleep(max(0.0, at - time.monotonic()))
    calls = by_collector(counts(endpoint))
    return calls, fetch(base, [f"{LAG}_bucket", f"{LAG}_count"])


def run_load(app: Any, base: str, endpoint: str, load: Load) -> Loaded:
    """Every poll due at once, as after a start, then scrapes while the polls run."""
    from bench.common import counts

    pids: list[int | str] = [p for p in worker_pids(app) if p]
    app.poller.poll_all_now()
    began = time.monotonic()
    cpu_before = cpu(pids)
    scraper = start_scraper(base, load.seconds, load.every)
    start, end = load.window()
    first_calls, first_lag = reading(base, endpoint, began + start)
    last_calls, last_lag = reading(base, endpoint, began + end)
    series = series_by_collector(fetch(base, [SERIES]))
    times, exported = scraped(scraper)
    wall = time.monotonic() - began
    total = sum(by_collector(counts(endpoint)).values())
    return Loaded(
        times=sorted(times),
        exported=exported,
        wall=wall,
        cpu=cpu(pids) - cpu_before,
        calls=total,
        window=(start, end),
        in_window=last_calls - first_calls,
        lag=lags(first_lag, last_lag),
        series=series,
        peak=sum(peak_rss_mib(pid) for pid in ["self", *pids]),
    )


def measure_all(
    targets: int,
    latency: float,
    concurrency: int,
    workers: int | str,
    memberships: int,
    load: Load,
) -> OrgResult:
    """One size, in this process: the caller runs it in a fresh one."""
    from prometheus_client.exposition import generate_latest

    from bench.common import median_ms, standin
    from exporter.app import App
    from exporter.config import parse_config

    names = load.names
    with standin(targets // 2, latency, memberships) as endpoint:
        # The counted round runs on a 1h interval; a reload then sets the load's.
        texts = [config_text(endpoint, load.interval, concurrency, workers, names)]
        texts.append(config_text(endpoint, "1h", concurrency, workers, names, stale="2h"))
        app = App(parse_config(texts[-1], {}), config_source=lambda: parse_config(texts[0], {}))
        server, base = serve(app)
        round_calls = first_round(app, endpoint)
        loaded = run_load(app, base, endpoint, load)
        server.shutdown()
        app.stop()
        library = median_ms(lambda: generate_latest(app.registry), 3)
        stock = cpu_per_call(stock_caller(endpoint, "ListCollaborations"), 100)
    found = result(targets, memberships, load, loaded, (library, stock * 1000), round_calls)
    found.workers = str(workers)
    return found


def result(
    targets: int,
    memberships: int,
    load: Load,
    loaded: Loaded,
    baselines: tuple[float, float],
    round_calls: dict[str, int],
) -> OrgResult:
    library, stock = baselines
    expected = formula(targets, memberships, load.names)
    seconds = loaded.window[1] - loaded.window[0]
    counted = load.counted()
    wanted = by_row(formula_per_second(targets, memberships, load.names, load.interval))
    # A row whose interval the window does not hold whole has no figure to compare with.
    whole = {r for r in wanted if all(n in counted for n in r.split(" + "))}
    rates = {
        r: [loaded.in_window[r] / seconds, w if r in whole else -1.0] for r, w in wanted.items()
    }
    return OrgResult(
        targets=targets,
        memberships=targets * memberships,
        series=loaded.exported,
        scrapes=len(loaded.times),
        scrape_median_ms=loaded.times[len(loaded.times) // 2] * 1000,
        scrape_worst_ms=loaded.times[-1] * 1000,
        library_ms=library,
        peak_rss_mib=loaded.peak,
        calls_per_s=sum(loaded.in_window[r] for r in whole) / seconds,
        formula_per_s=sum(wanted[r] for r in whole),
        cpu_ms_per_call=loaded.cpu / max(loaded.calls, 1) * 1000,
        stock_ms=stock,
        interval=load.interval,
        window=list(loaded.window),
        round_calls={name: [round_calls[name], expected[name]] for name in expected},
        rates=rates,
        series_by_collector=loaded.series,
        lag={n: [f.polls, f.late, f.worst] for n, f in loaded.lag.items()},
    )


def org_table(results: list[OrgResult], latency: float) -> str:
    """One row per size, then each size's collectors: calls, series, schedule lag."""
    interval = results[0].interval if results else ""
    workers = results[0].workers if results else ""
    lines = [
        f"Every collector every {interval} (default: each its own), poll_workers {workers}, "
        "stand-in latency "
        f"{latency * 1000:g} ms; scrapes of /metrics over loopback while the polls run. Calls a "
        "second and schedule lag are counted over the window (s after every poll was made "
        "due); the lag is read from cleanrooms_exporter_poll_lag_ratio.",
        "",
        "| targets | memberships | series | scrapes | /metrics median ms | worst ms "
        "| library ms | median / library | peak RSS MiB | Clean Rooms calls/s | formula calls/s "
        "| calls / formula | window s | polls late > 10% | CPU ms per call | stock ms "
        "| per call / stock | round calls = formula |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|",
    ]
    lines += [_row(r) for r in results]
    for r in results:
        lines += ["", f"{r.targets} targets, per collector:", ""]
        lines += [
            "| collector | round calls (formula) | calls/s (formula) | series "
            "| polls late > 10% of interval |",
            "|---|---|---|---:|---|",
        ]
        for name, (got, want) in r.round_calls.items():
            rate, wanted = r.rates.get(name, [0.0, -1.0])
            formula_rate = f"{wanted:.1f}" if wanted >= 0 else "n/a: interval > window"
            members = name.split(" + ")  # collectors sharing an operation share a row
            series = sum(r.series_by_collector.get(n, 0) for n in members)
            lines.append(
                f"| {name} | {got} ({want}) | {rate:.1f} ({formula_rate}) "
                f"| {series} | {_lag_cell([r.lag[n] for n in members if n in r.lag])} |"
            )
    return "\n".join(lines)


def _lag_cell(found: list[list[Any]]) -> str:
    """Polls late of one row's collectors, and the highest bucket any of them reached."""
    polls, late = sum(int(f[0]) for f in found), sum(int(f[1]) for f in found)
    worst = max((str(f[2]) for f in found if f[0]), key=float, default="")
    return f"{late} of {polls}, worst ≤ {worst}" if polls else "none"


def _row(r: OrgResult) -> str:
    exact = all(got == want for got, want in r.round_calls.values())
    start, end = r.window
    return (
        f"| {r.targets} | {r.memberships} | {r.series} | {r.scrapes} "
        f"| {r.scrape_median_ms:.0f} | {r.scrape_worst_ms:.0f} | {r.library_ms:.0f} "
        f"| {r.scrape_median_ms / r.library_ms:.3f} | {r.peak_rss_mib:.0f} "
        f"| {r.calls_per_s:.0f} | {r.formula_per_s:.0f} | {r.calls_per_s / r.formula_per_s:.2f} "
        f"| {start:g}-{end:g} | {r.late} of {r.polls} "
        f"| {r.cpu_ms_per_call:.2f} | {r.stock_ms:.2f} "
        f"| {r.cpu_ms_per_call / r.stock_ms:.2f} | {'yes' if exact else 'NO'} |"
    )

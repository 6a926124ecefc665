"""Scale: discovery, first and steady-state polls, API calls, memory and /metrics at size.

    python -m bench.scale                                # 100, 1000 and 2000 targets (documented)
    python -m bench.scale --sizes 40 --latency 0.01      # the CI smoke run
    python -m bench.scale --collectors all --sizes 300   # every collector, 5 memberships each
    python -m bench.scale --collectors all --interval default --load-seconds 700

Each size runs in its own process (so peak RSS is that size's), against the
stand-in in ``bench/standin.py`` in another process, which adds a fixed latency
to every request. Targets are accounts x 2 regions, found through Organizations
discovery; 25 collaborations each. Ratios are against bounds computed in the
same run: the latency lower bound (requests x latency / concurrency), the
minimum API calls (ceil(n/100) per target plus the discovery pages), and
prometheus_client's own rendering of the same registry. With ``--collectors all``,
every collector polls and /metrics is scraped while the polls run: ``bench/orgscale.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from bench.calls import peak_rss_mib, wait_warm, worker_pids
from bench.common import (
    BARE_THREADS,
    COLLABORATIONS,
    CONCURRENCY,
    REGIONS,
    bare_client_round,
    config_text,
    counts,
    median_ms,
    standin,
    timed,
    use_fake_credentials,
)
from bench.orgscale import Load, OrgResult, chosen, measure_all, org_table


@dataclass
class Result:
    targets: int
    first_poll_s: float
    steady_poll_s: float
    lower_bound_s: float
    bare_client_s: float
    calls_first: int
    calls_steady: int
    minimum_first: int
    minimum_steady: int
    peak_rss_mib: float
    render_ms: float
    library_ms: float
    shards: str


def measure(
    targets: int, latency: float, concurrency: int = CONCURRENCY, workers: int | str = 1
) -> Result:
    """One size, in this process: the caller runs it in a fresh one."""
    from prometheus_client.exposition import generate_latest

    from exporter.app import App
    from exporter.config import parse_config

    accounts = targets // len(REGIONS)
    with standin(accounts, latency) as endpoint:
        text = config_text(endpoint, concurrency=concurrency, workers=workers)
        app = App(parse_config(text, {}))
        first = timed(lambda: (app.start(), app.wait_ready()))
        wait_warm(app)
        calls_first = counts(endpoint, reset=True)
        steady = timed(lambda: (app.poller.poll_all_now(), _wait_round(app, 2)))
        calls_steady = counts(endpoint)
        bare = bare_client_round(endpoint, targets)
        app.renderer.render("text/plain")  # the cold render, once per poll in real life
        render = median_ms(lambda: app.renderer.render("text/plain"), 5)
        # Read before the baseline below, whose 30 MB string is the library's, not ours;
        # poll worker processes included.
        pids = [p for p in worker_pids(app) if p is not None]
        peak_rss = peak_rss_mib() + sum(peak_rss_mib(pid) for pid in pids)
        library = median_ms(lambda: generate_latest(app.registry), 3)
        app.stop()
        shards = _shard_coverage(endpoint, targets)
    pages = math.ceil(accounts / 20)
    requests = targets * math.ceil(COLLABORATIONS / 100)
    return Result(
        targets=targets,
        first_poll_s=first,
        steady_poll_s=steady,
        lower_bound_s=requests * latency / concurrency,
        bare_client_s=bare,
        calls_first=calls_first.get("ListCollaborations", 0) + calls_first.get("ListAccounts", 0),
        calls_steady=calls_steady.get("ListCollaborations", 0),
        minimum_first=requests + pages,
        minimum_steady=requests,
        peak_rss_mib=peak_rss,
        render_ms=render,
        library_ms=library,
        shards=shards,
    )


def _wait_round(app: object, polls: int) -> None:
    poller = app.poller  # type: ignore[attr-defined]
    while any(s.polls < polls for s in poller.snapshot.states.values()):
        time.sleep(0.01)


def _shard_coverage(endpoint: str, targets: int) -> str:
    """Three apps, one per shard, over the same discovery: disjoint and complete?"""
    from exporter.app import App
    from exporter.config import parse_config

    owned: list[set[tuple[str, str]]] = []
    for index in range(3):
        app = App(parse_config(config_text(endpoint, (index, 3)), {}))
        assert app.discoverer is None
        app._start_discovery(app.config)  # discovery only: no polling needed for coverage
        assert app.discoverer is not None
        app.discoverer.attempted.wait(60)
        owned.append(set(app.poller.snapshot.states))
        app.stop()
    union = set().union(*owned)
    disjoint = sum(len(o) for o in owned) == len(union)
    complete = len(union) == targets
    sizes = "/".join(str(len(o)) for o in owned)
    return f"{sizes}, {'disjoint' if disjoint else 'OVERLAP'}, {'complete' if complete else 'GAPS'}"


def table(
    results: list[Result], latency: float, concurrency: int = CONCURRENCY, workers: int | str = 1
) -> str:
    lines = [
        f"Stand-in latency {latency * 1000:g} ms per request, concurrency {concurrency}, "
        f"poll_workers {workers} "
        f"(bare client: {BARE_THREADS} threads), "
        f"{COLLABORATIONS} collaborations per target, targets = accounts x {len(REGIONS)} regions.",
        "",
        "| targets | first poll s | steady poll s | lower bound s | steady / bound "
        "| bare client s | steady / bare "
        "| API calls first (min) | API calls steady (min) | peak RSS MiB "
        "| /metrics ms | library ms | render / library | 3 shards |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.targets} | {r.first_poll_s:.2f} | {r.steady_poll_s:.2f} | {r.lower_bound_s:.2f} "
            f"| {r.steady_poll_s / r.lower_bound_s:.2f} | {r.bare_client_s:.2f} "
            f"| {r.steady_poll_s / r.bare_client_s:.2f} | {r.calls_first} ({r.minimum_first}) "
            f"| {r.calls_steady} ({r.minimum_steady}) | {r.peak_rss_mib:.0f} "
            f"| {r.render_ms:.0f} | {r.library_ms:.0f} | {r.render_ms / r.library_ms:.3f} "
            f"| {r.shards} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", help="targets per run (default 100,1000,2000; all: 300)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--workers", default="1", help="poll_workers: a number, or auto")
    parser.add_argument(
        "--collectors",
        default="collaborations",
        help="collaborations alone (comparable across releases), all, or a comma list",
    )
    parser.add_argument("--memberships", type=int, default=5, help="per target, with all")
    parser.add_argument(
        "--interval", default="30s", help="every collector's, with all; default: each its own"
    )
    parser.add_argument("--load-seconds", type=float, default=90.0, help="scraping, with all")
    parser.add_argument("--scrape-every", type=float, default=5.0, help="with all")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one size
    args = parser.parse_args(argv)
    use_fake_credentials()
    every = args.collectors != "collaborations"
    if args.one:
        print(json.dumps(asdict(_one(args))))
        return 0
    default_sizes = "300" if every else "100,1000,2000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    rows = [_child(args, size) for size in sizes]
    if every:
        org = [OrgResult(**row) for row in rows]
        print(org_table(org, args.latency))
        return 0 if all(g == w for r in org for g, w in r.round_calls.values()) else 1
    results = [Result(**row) for row in rows]
    print(table(results, args.latency, args.concurrency, args.workers))
    exact = all(
        r.calls_first == r.minimum_first and r.calls_steady == r.minimum_steady for r in results
    )
    covered = all("disjoint" in r.shards and "complete" in r.shards for r in results)
    return 0 if exact and covered else 1


def _one(args: argparse.Namespace) -> Result | OrgResult:
    if args.collectors != "collaborations":
        load = Load(args.interval, args.load_seconds, args.scrape_every, chosen(args.collectors))
        return measure_all(
            args.one, args.latency, args.concurrency, args.workers, args.memberships, load
        )
    return measure(args.one, args.latency, args.concurrency, args.workers)


def _child(args: argparse.Namespace, size: int) -> dict[str, object]:
    """One size in a fresh process, so that its peak RSS is its own."""
    command = [sys.executable, "-m", "bench.scale", "--one", str(size)]
    for flag in ("latency", "concurrency", "workers", "collectors", "memberships", "interval"):
        command += [f"--{flag}", str(getattr(args, flag))]
    command += ["--load-seconds", str(args.load_seconds), "--scrape-every", str(args.scrape_every)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ})
    row: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return row


if __name__ == "__main__":
    sys.exit(main())

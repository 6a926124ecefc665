"""Scale: discovery, first and steady-state polls, API calls, memory and /metrics at size.

    python -m bench.scale                                # 100, 1000 and 2000 targets (documented)
    python -m bench.scale --sizes 40 --latency 0.01      # the CI smoke run
    python -m bench.scale --collectors all --sizes 300   # every collector, 5 memberships each

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
import http.client
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from bench.calls import peak_rss_mib, wait_warm, worker_pids
from bench.common import use_fake_credentials
from bench.orgscale import OrgResult, chosen, measure_all, org_table

REGIONS = ("us-east-1", "eu-west-2")
COLLABORATIONS = 25
CONCURRENCY = 64  # the exporter's worker threads unless --concurrency says otherwise
BARE_THREADS = 64  # the bare client's threads: the floor, whatever the exporter uses


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


@contextmanager
def standin(accounts: int, latency: float, memberships: int | None = None) -> Iterator[str]:
    command = [sys.executable, "-m", "bench.standin", "--accounts", str(accounts)]
    command += ["--latency", str(latency), "--collaborations", str(COLLABORATIONS)]
    if memberships is not None:
        command += ["--memberships", str(memberships)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def counts(endpoint: str, reset: bool = False) -> dict[str, int]:
    with urllib.request.urlopen(f"{endpoint}/__stats", timeout=10) as response:
        result: dict[str, int] = json.loads(response.read())
    if reset:
        request = urllib.request.Request(f"{endpoint}/__reset", method="POST", data=b"")
        urllib.request.urlopen(request, timeout=10).close()
    return result


def config_text(
    endpoint: str,
    shard: tuple[int, int] = (0, 1),
    concurrency: int = CONCURRENCY,
    workers: int = 1,
) -> str:
    return (
        f"poll_interval: 1h\nstale_after: 2h\nconcurrency: {concurrency}\n"
        # Left out when 1, so the script runs against releases without the key.
        + (f"poll_workers: {workers}\n" if workers > 1 else "")
        + f"regions: [{', '.join(REGIONS)}]\n"
        f"aws: {{endpoint_url: '{endpoint}', max_attempts: 2}}\n"
        f"sharding: {{index: {shard[0]}, count: {shard[1]}}}\n"
        "discovery: {organizations: {role_name: CleanRoomsReadOnly}}\n"
        # The collaborations path alone, so figures compare across releases.
        "collectors: {memberships: {enabled: false}}\n"
    )


def timed(action: object) -> float:
    began = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - began


def median_ms(action: object, runs: int) -> float:
    return statistics.median(timed(action) for _ in range(runs)) * 1000


def measure(
    targets: int, latency: float, concurrency: int = CONCURRENCY, workers: int = 1
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


def bare_client_round(endpoint: str, requests: int) -> float:
    """The same number of ListCollaborations requests from plain http.client threads.

    The floor this machine allows: the stand-in and a client with no SDK at all.
    """
    host, port = endpoint.removeprefix("http://").split(":")
    per_thread = [
        requests // BARE_THREADS + (i < requests % BARE_THREADS) for i in range(BARE_THREADS)
    ]

    def worker(count: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        for _ in range(count):
            conn.request(
                "GET",
                "/collaborations?maxResults=100",
                headers={"Authorization": "Credential=AKIA100000000001/x"},
            )
            conn.getresponse().read()
        conn.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in per_thread]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


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
    results: list[Result], latency: float, concurrency: int = CONCURRENCY, workers: int = 1
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
    parser.add_argument("--workers", type=int, default=1, help="poll_workers")
    parser.add_argument(
        "--collectors",
        default="collaborations",
        help="collaborations alone (comparable across releases), all, or a comma list",
    )
    parser.add_argument("--memberships", type=int, default=5, help="per target, with all")
    parser.add_argument("--interval", default="30s", help="every collector's, with all")
    parser.add_argument("--load-seconds", type=float, default=60.0, help="scraping, with all")
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
        print(org_table(org, args.latency, args.interval))
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
        return measure_all(
            args.one,
            args.latency,
            args.concurrency,
            args.workers,
            args.memberships,
            args.interval,
            args.load_seconds,
            args.scrape_every,
            chosen(args.collectors),
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

"""Soak: a stream of protected queries against the protected_queries collector.

    python -m bench.soak_analyses                  # 120 s, the documented run
    python -m bench.soak_analyses --seconds 20     # the CI smoke run

Queries arrive in every membership and finish a moment later, far more of them over
the run than one lookback holds, each with a cost the collector fetches (details on,
one GetProtectedQuery per finished query). Checks that the exporter's memory stays
flat (the ids it remembers and the details it waits for are bounded by the lookback
and ``details_per_poll``, not by time) and that, once the stream stops, the finished
counters hold exactly the queries that finished, each fetched exactly once and its
cost counted once: none missed, none twice.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import threading
import time

from bench.common import exporter, use_fake_credentials
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, wait_for
from tests.helpers import Seeder

REGION = "us-east-1"
FINISHED = re.compile(r"^cleanrooms_protected_queries_finished_total\{.*\} (\S+)$", re.M)
BILLED = re.compile(r"^cleanrooms_protected_query_billed_crpu_seconds_total\{.*\} (\S+)$", re.M)
BACKLOG = re.compile(r"^cleanrooms_analysis_details_backlog\{.*\} (\S+)$", re.M)
UNITS = 0.01  # CRPU-hours of each query
POLLS = re.compile(
    r'^cleanrooms_collector_polls_total\{.*collector="protected_queries".*\} (\S+)$', re.M
)

Key = tuple[str, str, str]


class Stream:
    """New queries at ``rate`` a second over the memberships, each done ``delay`` later."""

    def __init__(self, fake: FakeCleanRooms, keys: list[Key], rate: float, seed: int) -> None:
        self.fake, self.keys, self.rate = fake, keys, rate
        self.rng = random.Random(seed)
        self.running: list[tuple[float, Key, str]] = []
        self.submitted = self.finished = 0

    def run(self, stop: threading.Event, delay: float = 0.2) -> None:
        while not stop.wait(1 / self.rate):
            now = time.time()
            key = self.rng.choice(self.keys)
            self.running.append((now, key, self.fake.analyses.add_query(key, now, "STARTED")))
            self.submitted += 1
            while self.running and self.running[0][0] < now - delay:
                _, done_key, query = self.running.pop(0)
                status = "FAILED" if self.rng.random() < 0.1 else "SUCCESS"
                self.finish(done_key, query, status)
        for _, key, query in self.running:  # let the last ones finish too
            self.finish(key, query, "SUCCESS")

    def finish(self, key: Key, query: str, status: str) -> None:
        error = "InsufficientCapacity" if status == "FAILED" else None
        self.fake.analyses.set_status(
            "protectedQueries", key, query, status, units=UNITS, duration_ms=30_000, error=error
        )
        self.finished += 1


def total(pattern: re.Pattern[str], text: str) -> float:
    return sum(float(v) for v in pattern.findall(text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long queries arrive")
    parser.add_argument("--rate", type=float, default=50.0, help="new queries a second")
    parser.add_argument("--lookback", default="10s")
    args = parser.parse_args(argv)
    from moto.server import ThreadedMotoServer

    use_fake_credentials()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    fake = FakeCleanRooms(f"http://{host}:{port}").start()
    proxy = FaultProxy(fake.url)
    try:
        return soak(args, fake, proxy)
    finally:
        proxy.close()
        fake.close()
        moto.stop()


def soak(args: argparse.Namespace, fake: FakeCleanRooms, proxy: FaultProxy) -> int:
    seeder, accounts = Seeder(), ["510000000001", "510000000002"]
    keys = [
        (a, REGION, seeder.add(a, REGION, "ACTIVE").membership_id) for a in accounts for _ in "ab"
    ]
    roles = "".join(
        f"  - {{role_arn: 'arn:aws:iam::{a}:role/CleanRoomsReadOnly'}}\n" for a in accounts
    )
    config = (
        f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 2}}\n"
        "poll_interval: 1s\nrate_limit: {requests_per_second: 0}\n"
        f"regions: [{REGION}]\naccounts:\n{roles}"
        "collectors:\n  protected_queries: "
        f"{{enabled: true, interval: 250ms, lookback: {args.lookback}}}\n"
    )
    stream = Stream(fake, keys, args.rate, seed=7)
    with exporter(config) as running:
        stop = threading.Event()
        # The stream starts after the first poll, so every query it makes is news.
        thread = threading.Thread(target=stream.run, args=(stop,), daemon=True)
        thread.start()
        rss: list[float] = []
        began = time.monotonic()
        while time.monotonic() - began < args.seconds:
            rss.append(running.rss_mib())
            fake.analyses.forget_before("protectedQueries", time.time() - 600)
            time.sleep(0.25)
        stop.set()
        thread.join()
        settle = total(POLLS, running.metrics()) + 2 * len(accounts)
        wait_for(lambda: total(POLLS, running.metrics()) >= settle, timeout=60)
        wait_for(lambda: total(BACKLOG, running.metrics()) == 0, timeout=60)
        text = running.metrics()
        # The counter is in CRPU-seconds; the report speaks AWS's CRPU-hours.
        counted, billed = total(FINISHED, text), total(BILLED, text) / 3600
        calls = len(proxy.calls("ListProtectedQueries"))
        polls = total(POLLS, text)
        gets = sorted(set(fake.analyses.gets.values()))
    return report(args, rss, stream, (counted, billed), (calls, polls), (len(keys), gets))


def report(
    args: argparse.Namespace,
    rss: list[float],
    stream: Stream,
    found: tuple[float, float],
    api: tuple[int, float],
    seen: tuple[int, list[int]],
) -> int:
    (counted, billed), (calls, polls), (memberships, gets) = found, api, seen
    quarter = max(1, len(rss) // 4)
    early = statistics.median(rss[quarter : 2 * quarter] or rss)
    late = statistics.median(rss[-quarter:])
    flat = late <= early * 1.10 + 5
    per_lookback = args.rate * float(args.lookback.rstrip("s"))
    print(
        f"soak: {memberships} memberships, {args.rate:g} queries/s for {args.seconds:g}s, "
        f"lookback {args.lookback}, protected_queries every 250ms"
    )
    print("| measure | value |")
    print("|---|---:|")
    print(f"| queries submitted / finished | {stream.submitted} / {stream.finished} |")
    print(f"| queries per lookback (all memberships) | ~{per_lookback:g} |")
    print(f"| finished_total summed over statuses | {counted:g} |")
    print(f"| protected_queries polls / ListProtectedQueries calls | {polls:g} / {calls} |")
    print(f"| RSS early (2nd quarter median) | {early:.1f} MiB |")
    print(f"| RSS late (last quarter median) | {late:.1f} MiB |")
    print(f"| ratio late/early | {late / early:.3f} |")
    print(f"| RSS peak | {max(rss):.1f} MiB |")
    print(f"| GetProtectedQuery calls per finished query | {gets} |")
    print(f"| billed CRPU-hours / expected | {billed:.2f} / {stream.finished * UNITS:.2f} |")
    exact = counted == stream.finished and gets == [1]
    exact = exact and round(billed, 6) == round(stream.finished * UNITS, 6)
    print(f"every finished query counted, fetched and billed {'once' if exact else 'WRONG'}")
    print(f"memory {'flat' if flat else 'GROWING'}")
    return 0 if flat and exact else 1


if __name__ == "__main__":
    sys.exit(main())

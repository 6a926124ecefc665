"""Load: many concurrent scrapers on /metrics while polls run.

    python -m bench.load                      # 50 scrapers for 30 s (the documented run)
    python -m bench.load --scrapers 10 --duration 3   # the CI smoke run

Checks that no scrape fails and no scrape causes an AWS call (the proxy in front
of moto counts every ListCollaborations call; they must match the polls), and
reports latency against a baseline: the same scrapers fetching the same bytes
from a bare http.server in this machine's same conditions.
"""

from __future__ import annotations

import argparse
import http.client
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import exporter, fake_aws, percentile, role_config
from tests.helpers import Seeder


def scrape_loop(port: int, deadline: float, latencies: list[float], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < deadline:
        began = time.perf_counter()
        try:
            conn.request("GET", "/metrics")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or b"cleanrooms_target_up" not in body:
                errors.append(f"status {response.status}")
        except (OSError, http.client.HTTPException) as err:
            errors.append(type(err).__name__)
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - began)
    conn.close()


def hammer(port: int, scrapers: int, duration: float) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + duration
    threads = [
        threading.Thread(target=scrape_loop, args=(port, deadline, latencies, errors))
        for _ in range(scrapers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


class _Static(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def baseline(body: bytes, scrapers: int, duration: float) -> list[float]:
    handler = type("Handler", (_Static,), {"body": body})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        latencies, _ = hammer(server.server_address[1], scrapers, duration)
    finally:
        server.shutdown()
    return latencies


def total(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text, re.M))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scrapers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--collaborations", type=int, default=25)
    parser.add_argument("--poll-interval", default="2s")
    args = parser.parse_args(argv)
    regions = ["us-east-1", "eu-west-2"]
    accounts = [f"{300000000000 + i}" for i in range(args.accounts)]
    with fake_aws() as proxy:
        seeder = Seeder()
        for account in accounts:
            for region in regions:
                seeder.statuses(account, region, ACTIVE=args.collaborations)
        config = role_config(proxy.url, accounts, regions, poll_interval=args.poll_interval)
        with exporter(config) as running:
            before_text = running.metrics()
            calls_before = len(proxy.calls("ListCollaborations"))
            latencies, errors = hammer(running.port, args.scrapers, args.duration)
            after_text = running.metrics()
            calls = len(proxy.calls("ListCollaborations")) - calls_before
            polls = total(after_text, "cleanrooms_target_polls_total") - total(
                before_text, "cleanrooms_target_polls_total"
            )
            base = baseline(after_text.encode(), args.scrapers, args.duration)
    targets = len(accounts) * len(regions)
    report(args, targets, latencies, errors, base, calls, polls)
    # A poll straddling either end of the window may be seen by one count only.
    scrape_caused_calls = abs(calls - polls) > targets
    return 1 if errors or scrape_caused_calls or not latencies else 0


def report(
    args: argparse.Namespace,
    targets: int,
    latencies: list[float],
    errors: list[str],
    base: list[float],
    calls: int,
    polls: float,
) -> None:
    ms = 1000.0
    p50, p99 = percentile(latencies, 0.5) * ms, percentile(latencies, 0.99) * ms
    b50, b99 = percentile(base, 0.5) * ms, percentile(base, 0.99) * ms
    print(
        f"load: {args.scrapers} scrapers x {args.duration:g}s, {targets} targets, "
        f"{args.collaborations} collaborations each, poll_interval {args.poll_interval}"
    )
    print("| run | scrapes | errors | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    print(f"| exporter /metrics | {len(latencies)} | {len(errors)} | {p50:.1f} | {p99:.1f} |")
    print(f"| baseline: same bytes, bare http.server | {len(base)} | 0 | {b50:.1f} | {b99:.1f} |")
    print(f"| ratio exporter/baseline | | | {p50 / b50:.2f} | {p99 / b99:.2f} |")
    verdict = "no" if abs(calls - polls) <= targets else "SOME"
    print(
        f"ListCollaborations calls during the run: {calls}; polls finished: {polls:g} "
        f"(one page each): scrapes caused {verdict} AWS calls"
    )
    if errors:
        print(f"errors: {sorted(set(errors))}")


if __name__ == "__main__":
    sys.exit(main())

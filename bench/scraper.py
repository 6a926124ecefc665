"""Scrape a /metrics URL every few seconds, as Prometheus would, from a process of its own.

    python -m bench.scraper http://127.0.0.1:9184 --seconds 60 --every 5

Prints one JSON object: each scrape's seconds, and the series of the last answer. In its
own process, so that reading the answer never competes with the exporter's threads
for one interpreter (as Prometheus does not).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
import urllib.request

# What Prometheus 2 sends: OpenMetrics preferred, and a compressed answer.
HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "Accept-Encoding": "gzip",
}


def scrape(base: str) -> tuple[float, bytes]:
    """One scrape, timed until the answer is read and uncompressed, as Prometheus times it."""
    request = urllib.request.Request(f"{base}/metrics", headers=HEADERS)
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as response:
        body: bytes = response.read()
        if response.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
    return time.perf_counter() - began, body


def series(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--every", type=float, default=5.0)
    args = parser.parse_args()
    times, body = [], b""
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        tick = time.monotonic()
        took, body = scrape(args.base)
        times.append(took)
        time.sleep(max(0.0, args.every - (time.monotonic() - tick)))
    print(json.dumps({"times": times, "series": series(body)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

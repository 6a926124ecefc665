"""Shared pieces of the benchmarks: moto behind a counting proxy, and an exporter process."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.faultproxy import FaultProxy, wait_for

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIABENCHBENCHBENCH0",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def use_fake_credentials() -> None:
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(FAKE_ENV)


@contextmanager
def fake_aws() -> Iterator[FaultProxy]:
    """moto on a loopback port with a request-counting proxy in front."""
    from moto.server import ThreadedMotoServer  # only the benchmarks that use moto pay for it

    use_fake_credentials()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    proxy = FaultProxy(f"http://{host}:{port}")
    try:
        yield proxy
    finally:
        proxy.close()
        moto.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ExporterProcess:
    proc: subprocess.Popen[bytes]
    port: int
    config: Path  # rewrite it and reload to change the configuration

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=30) as response:
            return response.read().decode()


@contextmanager
def exporter(
    config_text: str, *flags: str, stderr: IO[bytes] | None = None
) -> Iterator[ExporterProcess]:
    """Run the exporter as its own process, so its memory and CPU are its own."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(config_text)
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--config.file",
                str(config),
                "--web.listen-address",
                f"127.0.0.1:{port}",
                "--log.level",
                "warn",
                *flags,
            ],
            env={**os.environ, **FAKE_ENV},
            stderr=stderr,
        )
        running = ExporterProcess(proc, port, config)
        try:
            wait_for(lambda: _ready(running), timeout=120)
            yield running
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def _ready(running: ExporterProcess) -> bool:
    if running.proc.poll() is not None:
        raise RuntimeError(f"exporter exited with {running.proc.returncode}")
    try:
        with urllib.request.urlopen(f"{running.base}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def role_config(endpoint: str, accounts: list[str], regions: list[str], **settings: str) -> str:
    lines = [f"{k}: {v}" for k, v in settings.items()]
    lines.append(f"aws: {{endpoint_url: '{endpoint}', max_attempts: 2}}")
    lines.append(f"regions: [{', '.join(regions)}]")
    lines.append("accounts:")
    lines += [f"  - {{role_arn: 'arn:aws:iam::{a}:role/CleanRoomsReadOnly'}}" for a in accounts]
    return "\n".join(lines) + "\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is ``pid``: an exporter's poll workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


# --- the stand-in AWS (bench/standin.py in another process) ---------------------------

REGIONS = ("us-east-1", "eu-west-2")
COLLABORATIONS = 25
CONCURRENCY = 64  # the exporter's worker threads unless --concurrency says otherwise
BARE_THREADS = 64  # the bare client's threads: the floor, whatever the exporter uses


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
    workers: int | str = 1,
) -> str:
    return (
        f"poll_interval: 1h\nstale_after: 2h\nconcurrency: {concurrency}\n"
        # Left out when 1, so the script runs against releases without the key.
        + (f"poll_workers: {workers}\n" if str(workers) != "1" else "")
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

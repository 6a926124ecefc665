"""Shared pieces of the benchmarks: moto behind a counting proxy, and an exporter process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
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

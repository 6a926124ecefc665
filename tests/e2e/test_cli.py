"""The command line end to end: --once, the demo, serving, and signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.faultproxy import wait_for


def exporter(*args: str, **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exporter", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_once_prints_every_status_and_succeeds() -> None:
    proc = exporter("--demo", "--once")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    samples = [
        s
        for f in text_string_to_metric_families(out)
        for s in f.samples
        if s.name == "cleanrooms_collaborations"
    ]
    statuses = {s.labels["member_status"] for s in samples if s.value > 0}
    assert statuses == {"INVITED", "ACTIVE", "LEFT", "REMOVED"}
    assert {s.labels["account_id"] for s in samples} == {
        "111111111111",
        "222222222222",
        "333333333333",
    }
    assert "demo-external-id" not in out + err
    assert "demo-secret-access-key" not in out + err


def test_once_exits_1_when_a_target_fails(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"aws: {{endpoint_url: 'http://127.0.0.1:{free_port()}', max_attempts: 1,"
        " connect_timeout: 1s}\n"
        "accounts: [{role_arn: 'arn:aws:iam::111111111111:role/R'}]\n"
    )
    proc = exporter("--config.file", str(config), "--once")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert 'cleanrooms_target_up{account_id="111111111111",region="us-east-1"} 0.0' in out
    assert "error_code=ConnectionError" in err or "ConnectionError" in out


def test_serves_demo_and_stops_on_sigterm() -> None:
    port = free_port()
    proc = exporter("--demo", "--web.listen-address", f"127.0.0.1:{port}", "--log.format", "json")
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_for(ready, timeout=60)
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert "cleanrooms_target_up" in body
        with urllib.request.urlopen(f"{base}/", timeout=5) as response:
            assert 'id="targets"' in response.read().decode()
    finally:
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert time.monotonic() - began < 5
    assert '"msg": "received SIGTERM, shutting down"' in err


def test_port_in_use_exits_1() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = exporter("--demo", "--web.listen-address", f"127.0.0.1:{port}", env={**os.environ})
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "cannot listen" in err

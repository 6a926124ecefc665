"""Shared fixtures: an in-process moto server on loopback and fake AWS credentials."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from moto.server import ThreadedMotoServer

from exporter.app import App
from exporter.config import parse_config
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder

_account_numbers = itertools.count(100000000001)


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test may read real AWS credentials or config, or reach a real endpoint."""
    empty = tmp_path_factory.getbasetemp() / "empty-aws-file"
    empty.touch()
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATESTTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key-do-not-leak")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server for the session; tests isolate themselves by using fresh account ids."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def fake_server(moto_server: str) -> Iterator[FakeCleanRooms]:
    """The fake of what moto lacks, in front of moto; every response it sends is checked."""
    server = FakeCleanRooms(moto_server).start()
    yield server
    server.close()


@pytest.fixture
def fake(fake_server: FakeCleanRooms) -> Iterator[FakeCleanRooms]:
    """The session's fake; a test fails if the fake sent anything off the service model."""
    fake_server.violations.clear()
    yield fake_server
    assert fake_server.violations == [], "the fake answered off botocore's service model"


@pytest.fixture
def proxy(fake: FakeCleanRooms) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the fake and moto; no faults until told."""
    server = FaultProxy(fake.url)
    yield server
    server.close()


@pytest.fixture
def new_account() -> Callable[[], str]:
    """Makes 12-digit account ids no other test has used (moto's state is process-wide)."""
    return lambda: f"{next(_account_numbers):012d}"


@pytest.fixture
def seeder() -> Seeder:
    return Seeder()


def require_tool(name: str) -> str:
    """Path of an external tool; a missing tool fails under CI=true and skips elsewhere."""
    path = shutil.which(name)
    if path is None:
        package = {"promtool": "prometheus", "chromedriver": "chromium-driver"}.get(name, name)
        message = f"{name} is not installed (apt-get install -y {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def run_exporter() -> Iterator[Callable[..., App]]:
    started: list[App] = []

    def start(endpoint: str, body: str, **env: str) -> App:
        if "rate_limit" not in body:  # the simulated AWS has no quota; tests of it set their own
            body = f"rate_limit: {{requests_per_second: 0}}\n{body}"
        config = parse_config(f"aws: {{endpoint_url: '{endpoint}', max_attempts: 3}}\n{body}", env)
        exporter = App(config)
        started.append(exporter)
        exporter.poller.start()
        assert exporter.poller.wait_ready(30), "first poll round did not finish"
        return exporter

    yield start
    for exporter in started:
        exporter.poller.stop()

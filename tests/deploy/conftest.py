"""The container tests' images: built once per test session, shared by pytest-xdist workers."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import yaml

from tests.deploy.container import Containers, Engine, find_engine
from tests.paths import ROOT

COMPOSE = ROOT / "examples" / "demo-stack" / "compose.yaml"


@dataclass(frozen=True)
class Images:
    default: str  # `docker build .` as it is: EXTRAS=auth
    demo: str  # what examples/demo-stack builds: its build arguments
    demo_args: tuple[str, ...]


def compose_exporter() -> dict[str, object]:
    service: dict[str, object] = yaml.safe_load(COMPOSE.read_text())["services"]["exporter"]
    return service


@pytest.fixture(scope="session")
def engine() -> Engine:
    return find_engine()


@pytest.fixture(scope="session")
def images(engine: Engine, tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Images:
    """Both images, built from this checkout once per session whatever the xdist workers.

    The first worker to take the lock builds; the others find the marker it leaves in the
    session's shared temporary directory and use the same tags.
    """
    build = compose_exporter()["build"]
    assert isinstance(build, dict)
    demo_args = tuple(f"{k}={v}" for k, v in build["args"].items())
    # One name per checkout: sessions of two checkouts on one machine never swap images.
    name = f"cleanrooms-exporter-test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]}"
    images = Images(f"{name}:default", f"{name}:demo", demo_args)
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    with (shared / "container-images.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = shared / "container-images.built"
        if not marker.exists():
            engine.build(images.default)
            engine.build(images.demo, *(f"--build-arg={arg}" for arg in demo_args))
            marker.write_text("built\n")
    return images


@pytest.fixture
def containers(engine: Engine) -> Iterator[Containers]:
    started = Containers(engine)
    yield started
    started.close()

"""The exposition the convention tests read: the demo's, every collector on, plus the series
that only other modes export (discovery, poll workers)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from exporter.collectors import REGISTRY
from exporter.core.model import DiscoveryStatus, WorkerStatus
from exporter.metrics.exporter_state import WorkerPoolCollector, discovery_families


def collector_flags() -> list[str]:
    """``--collector.NAME`` for every collector of the registry (the primary is always on)."""
    return [f"--collector.{spec.name}" for spec in REGISTRY if not spec.polling.primary]


def demo_metrics() -> str:
    """What the demo exports after its first poll (``--once``), every collector switched on."""
    command = [sys.executable, "-m", "exporter", "--demo", "--demo.throttle-ratio", "0", "--once"]
    result = subprocess.run(
        [*command, *collector_flags()], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


class _Discovery:
    """The discovery series, as an exporter with ``discovery:`` exports them."""

    def collect(self) -> list[Metric]:
        return list(discovery_families(DiscoveryStatus(True, 3, 2, 0, time.time())))


def other_modes_metrics() -> str:
    """The series the demo does not run: discovery's and the poll workers'."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Discovery())  # type: ignore[arg-type]
    registry.register(WorkerPoolCollector(lambda: [WorkerStatus(0, True, 1, 4)]))
    return generate_latest(registry).decode()


@pytest.fixture(scope="session")
def full_exposition() -> str:
    """Every family the exporter can export, in the text format of ``/metrics``."""
    return demo_metrics() + other_modes_metrics()

"""The demo's analyses: counters move while someone watches, budgets drain, one query hangs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporter.app import App
from exporter.demo.embedded import DemoWorld, demo_config, start_world
from tests.faultproxy import wait_for


@pytest.fixture
def world() -> Iterator[DemoWorld]:
    running = start_world(throttle_ratio=0.0, seed=7)
    yield running
    running.stop()


def total(app: App, name: str, **match: str) -> float:
    return sum(
        sample.value
        for family in app.registry.collect()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in match.items())
    )


def test_finished_counters_move_and_budgets_drain_between_polls(world: DemoWorld) -> None:
    app = App(demo_config(world.endpoint_url, poll_interval=3600))
    app.poller.start()
    try:
        assert app.poller.wait_ready(60)
        for name in ("protected_queries", "protected_jobs", "privacy_budgets"):
            assert total(app, "cleanrooms_collector_up", collector=name) == 5  # every target
        finished = "cleanrooms_protected_queries_finished_total"
        assert total(app, finished) == 0  # the first poll is the baseline
        oldest = [
            s.value
            for f in app.registry.collect()
            for s in f.samples
            if s.name == "cleanrooms_protected_query_oldest_running_age_seconds"
        ]
        assert max(oldest) > 3600  # the long-running query is there from the start
        remaining = "cleanrooms_privacy_budget_remaining_queries"
        budget_before = total(app, remaining)
        assert budget_before > 0
        simulation = world.simulation  # the one that seeded the world, as the demo runs it
        for _ in range(4):  # 20 seconds of the demo's 5-second ticker
            simulation.analyses_step()
        app.poller.poll_all_now()
        wait_for(lambda: total(app, finished) > 0, timeout=30)
        wait_for(lambda: total(app, remaining) < budget_before, timeout=30)
        assert total(app, finished, status="SUCCESS") > 0
    finally:
        app.poller.stop()


def failed_anywhere(world: DemoWorld) -> set[str]:
    """Statuses of failure the fake now lists for any ML resource or intermediate table."""
    found = set()
    for kind in world.fake.ml.items:
        for scope in list(world.fake.ml.items[kind]):
            found |= {s["status"] for s in world.fake.ml.listed(kind, scope)}
    for key in list(world.fake.tables.items):
        found |= {s["status"] for s in world.fake.tables.tables(key)}
    return found & {"CREATE_FAILED", "POPULATE_FAILED"}


def test_the_running_demo_finishes_the_ml_work_and_tables_it_seeded(world: DemoWorld) -> None:
    # The world's simulation holds what the seeding left in progress; the demo's ticker
    # must move that same work on, or nothing ever fails and the failure alerts stay quiet.
    assert failed_anywhere(world) == set()
    for _ in range(200):  # each step finishes in-progress work with probability 0.2
        world.simulation.analyses_step()
    assert failed_anywhere(world) == {"CREATE_FAILED", "POPULATE_FAILED"}

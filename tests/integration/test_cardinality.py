"""The cardinality controls through the configuration file and a reload, against the fake."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client.exposition import generate_latest

from exporter.app import App
from exporter.config import parse_config
from exporter.demo.fake.service import FakeCleanRooms
from tests.helpers import Seeder, config, poll_again, value

QUERIES = "collectors: {protected_queries: {enabled: true%s}}\n"


def lines_of(body: bytes, name: str) -> list[str]:
    return [line for line in body.decode().splitlines() if line.startswith(name + "{")]


def test_a_reload_folds_and_filters_what_the_file_says(
    fake: FakeCleanRooms, seeder: Seeder, new_account: Callable[[], str], tmp_path: Path
) -> None:
    account = new_account()
    keys = []
    for _ in range(2):  # two ACTIVE memberships, each with queries of its own
        found = seeder.add(account, "us-east-1", "ACTIVE")
        keys.append((account, "us-east-1", found.membership_id))
    for key in keys:
        fake.analyses.add_query(key, time.time() - 60, "STARTED")
    path = tmp_path / "config.yaml"
    head = f"aws: {{endpoint_url: '{fake.url}'}}\nrate_limit: {{requests_per_second: 0}}\n"
    path.write_text(head + config(account, QUERIES % ""))
    app = App(parse_config(path.read_text(), {}), lambda: parse_config(path.read_text(), {}))
    app.start()
    try:
        assert app.wait_ready(30)
        body, _ = app.renderer.render("text/plain")
        assert len(lines_of(body, "cleanrooms_protected_queries_finished_total")) == 2 * 4
        series = value(app, "cleanrooms_exporter_series", collector="protected_queries")
        deny = "\nmetrics: {deny: ['cleanrooms_collaboration_.*_timestamp_seconds']}\n"
        path.write_text(head + config(account, QUERIES % ", detail: target") + deny)
        assert app.reload()[0]
        poll_again(app, account, "protected_queries")
        body, _ = app.renderer.render("text/plain")
        finished = lines_of(body, "cleanrooms_protected_queries_finished_total")
        assert len(finished) == 4  # one per terminal status: per target now
        assert all("membership_id" not in line for line in finished)
        assert "cleanrooms_collaboration_created_timestamp_seconds" not in body.decode()
        assert "# TYPE cleanrooms_collaboration_info gauge" in body.decode()  # not denied
        folded = value(app, "cleanrooms_exporter_series", collector="protected_queries")
        assert folded is not None
        assert series is not None
        assert folded < series
        # The library renders the same exposition (ages aside, which move with the clock).
        library = generate_latest(app.registry)
        timed = (b"_age_seconds", b"_timestamp_seconds")

        def untimed(text: bytes) -> list[bytes]:
            return [line for line in text.splitlines() if not any(t in line for t in timed)]

        assert untimed(body) == untimed(library)
    finally:
        app.stop()

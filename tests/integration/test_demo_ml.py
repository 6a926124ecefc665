"""The demo's Clean Rooms ML from every side: a partner's work this account pays for, exports.

The demo seeds, in each target's first ACTIVE collaboration, a partner that trains and
infers while this account pays; the partner's retraining fails, an export of its model to
this account fails, an audience export fails and an analysis log export fails. Each must
show in /metrics (counted once) and on the status page.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace

import pytest

from exporter.app import App
from exporter.demo.embedded import DemoWorld, demo_config, start_world
from exporter.web.attention import findings
from tests.conftest import require_tool
from tests.faultproxy import wait_for


@pytest.fixture
def world() -> Iterator[DemoWorld]:
    running = start_world(throttle_ratio=0.0, seed=11)
    yield running
    running.stop()


def promtool_check(app: App) -> None:
    """The exporter's own /metrics bytes pass ``promtool check metrics``."""
    body, _ = app.renderer.render("text/plain", hold_polls=False)
    result = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        check=False,
    )
    said = (result.stdout + result.stderr).decode()
    assert (result.returncode, said) == (0, "")


def total(app: App, name: str, **match: str) -> float:
    return sum(
        sample.value
        for family in app.registry.collect()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in match.items())
    )


COLLECTORS = (
    "collaborations",
    "analysis_log_exports",
    "ml_collaboration_trained_models",
    "ml_collaboration_inference_jobs",
    "ml_model_exports",
    "ml_audience_exports",
)
# What fails once, and where: one of each per target (5), a log export per membership (10).
FAILURES = {
    "cleanrooms_ml_collaboration_trained_models_failed_total": ({"account_role": "payer"}, 5),
    "cleanrooms_ml_model_export_jobs_failed_total": ({"account_role": "receiver"}, 5),
    "cleanrooms_ml_audience_export_jobs_failed_total": ({}, 5),
    "cleanrooms_analysis_log_exports_failed_total": ({}, 10),
}


def test_a_partner_works_this_account_pays_and_exports_fail_once_each(world: DemoWorld) -> None:
    config = demo_config(world.endpoint_url, poll_interval=3600)
    # The collectors under test only: the analyses' Gets would slow every round down.
    mine = [c for c in config.collectors if c.name in COLLECTORS]
    app = App(replace(config, collectors=tuple(mine)))
    app.poller.start()
    try:
        assert app.poller.wait_ready(60)
        paid = "cleanrooms_ml_collaboration_inference_jobs"
        assert total(app, paid, account_role="payer", status="ACTIVE") == 5  # every target's
        assert all(total(app, name, **match) == 0 for name, (match, _) in FAILURES.items())
        for _ in range(200):  # each step finishes in-progress work with probability 0.2
            world.simulation.analyses_step()
        app.poller.poll_all_now()
        for name, (match, times) in FAILURES.items():
            wait_for(lambda n=name, m=match, t=times: total(app, n, **m) == t, timeout=60)  # type: ignore[misc]
        errors = "cleanrooms_analysis_log_export_errors_total"
        wait_for(lambda: total(app, errors, error_code="NoSuchBucket") == 10, timeout=30)
        reasons = "cleanrooms_ml_audience_export_jobs_failed_by_reason_total"
        assert total(app, reasons, reason="AccessDenied") == 5
        promtool_check(app)  # the reasons' and error codes' series included
        found = [f.what for f in findings(app.poller.snapshot)]
        paid_for = [w for w in found if "paid by this account, failed" in w]
        assert len(paid_for) == 5
        assert all("created by member " in w for w in paid_for)
        polls = total(app, "cleanrooms_collector_polls_total")
        app.poller.poll_all_now()  # nothing new failed: nothing counted again
        wait_for(lambda: total(app, "cleanrooms_collector_polls_total") >= polls + 30, timeout=60)
        for name, (match, times) in FAILURES.items():
            assert total(app, name, **match) == times
    finally:
        app.poller.stop()


def test_the_whole_demos_metrics_pass_promtool(world: DemoWorld) -> None:
    app = App(demo_config(world.endpoint_url, poll_interval=3600))
    app.poller.start()
    try:
        assert app.poller.wait_ready(120)  # every collector of every target: slower when loaded
        assert total(app, "cleanrooms_collector_up", collector="analysis_log_exports") == 5
        promtool_check(app)
    finally:
        app.poller.stop()

"""ml_model_exports against the fake: models, then a bounded number of their export listings."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, poll_again, value, where_of

MODELS = "ListCollaborationTrainedModels"
OPERATION = "ListCollaborationTrainedModelExportJobs"
PARTNER = ("444444444444", "us-east-1", "22222222-2222-4222-8222-222222222222")


def test_calls_follow_the_formula_and_a_failed_export_to_this_account_counts_once(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    now = time.time()
    # In the order the first poll lists them (by ARN): the export that fails later is on
    # the first poll's first model, so its failure is news rather than the model's baseline.
    models = sorted(
        fake.ml.add_trained_model(PARTNER, collaboration.id, f"m{n}", "ACTIVE", now - 600 - n)
        for n in range(3)
    )
    fake.ml.add_trained_model(PARTNER, collaboration.id, "training", "CREATE_IN_PROGRESS", now)
    export = fake.ml_exports.add_model_export(
        ("us-east-1", collaboration.id, models[0]),
        PARTNER[::2],
        (a,),
        "to-us",
        "CREATE_IN_PROGRESS",
        now - 60,
    )
    for number in range(120):  # two pages of one model's exports
        fake.ml_exports.add_model_export(
            ("us-east-1", collaboration.id, models[1]),
            PARTNER[::2],
            ("999999999999",),
            f"e{number}",
            "ACTIVE",
            now - 3600 - number,
        )
    collectors = "collectors: {ml_model_exports: {enabled: true, models_per_poll: 2}}"
    exporter = run_exporter(proxy.url, config(a, collectors))
    where = where_of(a, collaboration)
    backlog = "cleanrooms_ml_model_export_backlog"
    assert value(exporter, backlog, **where) == 1  # 3 ACTIVE models, 2 listed a poll
    # One page of models, then ⌈X / 100⌉, at least 1, for each of the two listed (by ARN).
    assert len(proxy.calls(MODELS, a)) == 1
    listed = sorted(models)[:2]
    assert len(proxy.calls(OPERATION, a)) == sum(2 if m == models[1] else 1 for m in listed)
    counts = "cleanrooms_ml_model_export_jobs"
    assert listed == models[:2]
    assert value(exporter, counts, **where, account_role="neither", status="ACTIVE") == 120
    fake.ml_exports.set_status(export, "CREATE_FAILED", time.time(), reason="KmsKeyDisabled")
    for _ in range(3):  # the rotation comes back to the first model
        poll_again(exporter, a, "ml_model_exports")
    failed = "cleanrooms_ml_model_export_jobs_failed_total"
    assert value(exporter, failed, **where, account_role="receiver") == 1
    assert value(exporter, failed, **where, account_role="creator") == 0
    reasons = "cleanrooms_ml_model_export_jobs_failed_by_reason_total"
    assert value(exporter, reasons, **where, reason="KmsKeyDisabled") == 1
    assert value(exporter, counts, **where, account_role="receiver", status="CREATE_FAILED") == 1

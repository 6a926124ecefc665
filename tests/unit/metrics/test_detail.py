"""A collector's detail level folds its series generically, and folded counters never fall."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collectors import REGISTRY
from exporter.collectors.base import AgeSpec, TargetData
from exporter.core.series import DETAILS, Family, counter, dropped_labels, gauge, item_labels
from exporter.metrics import folding
from tests.unit.metrics.test_collector import DAY
from tests.unit.metrics.world import COLLECTORS, SETTINGS, World, collector_data, snapshot

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
Sample = tuple[str, dict[str, str], float]


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    found = []
    for family in text_string_to_metric_families(text.replace("# EOF\n", "")):
        for s in family.samples:
            if s.name == name:
                labels = {k: v for k, v in s.labels.items() if k not in ("account_id", "region")}
                found.append((labels, s.value))
    return found


def at(level: str) -> World:
    world = World()
    world.with_detail(**dict.fromkeys(("collaborations", *COLLECTORS), level))
    return world


@pytest.mark.parametrize("accept", [TEXT, OPENMETRICS])
@pytest.mark.parametrize("level", DETAILS)
def test_every_level_renders_the_same_bytes_as_the_library(accept: str, level: str) -> None:
    world = at(level)
    world.same(accept)
    world.same(accept)  # from the cache


def test_membership_detail_folds_items_away() -> None:
    text = at("membership").same()
    expiry = "cleanrooms_intermediate_table_retention_expiry_timestamp_seconds"
    # Tables t1 and t2 (1 and 2 days' retention): the soonest expiry of each membership.
    assert samples(text, expiry) == [
        ({"membership_id": "m1", "collaboration_id": "c1"}, pytest.approx(1.8e9)),
        ({"membership_id": "m2", "collaboration_id": "c2"}, pytest.approx(1.8e9)),
    ]
    # Access budgets are per resource, and a budget cannot be summed: left out.
    assert samples(text, "cleanrooms_access_budget_remaining") == []
    # Ages keep the oldest: travellers, 9 days, of the two audience models.
    assert samples(text, "cleanrooms_ml_audience_model_age_seconds") == [({}, 9 * DAY)]
    # Families without per-item labels are as they were.
    remaining = samples(text, "cleanrooms_privacy_budget_remaining_queries")
    assert [labels["membership_id"] for labels, _ in remaining] == ["m1", "m2"]


def test_collaboration_detail_drops_membership_ids_and_merges_nothing() -> None:
    whole, text = World().same(), at("collaboration").same()
    assert 'membership_id="' not in "".join(
        line for line in text.splitlines() if not line.startswith("cleanrooms_collaboration_info")
    )
    before = samples(whole, "cleanrooms_protected_queries_finished_total")
    after = samples(text, "cleanrooms_protected_queries_finished_total")
    assert [(dict(k, membership_id=""), v) for k, v in before] == [
        (dict(k, membership_id=""), v) for k, v in after
    ]
    # One membership per collaboration: a budget is relabelled, not merged, so it stays.
    assert len(samples(text, "cleanrooms_privacy_budget_epsilon")) == 2
    assert samples(text, "cleanrooms_membership_payment_info")  # relabelled too
    assert samples(text, "cleanrooms_membership_info") == []  # no collaboration_id label


def test_target_detail_sums_counts_and_counters_and_drops_what_cannot_be_summed() -> None:
    text = at("target").same()
    assert samples(text, "cleanrooms_protected_queries") == [
        ({"status": "STARTED"}, 2.0),
        ({"status": "SUCCESS"}, 4.0),
    ]
    assert samples(text, "cleanrooms_protected_queries_finished_total") == [
        ({"status": "FAILED"}, 7.0)
    ]
    assert samples(text, "cleanrooms_collaboration_members") == [
        ({"status": "ACTIVE"}, 4.0),
        ({"status": "LEFT"}, 2.0),
    ]
    backlog = samples(text, "cleanrooms_analysis_details_backlog")
    assert backlog == [
        ({"collector": "protected_queries"}, 2.0),
        ({"collector": "protected_jobs"}, 2.0),
    ]
    for gone in (
        "cleanrooms_collaboration_info",
        "cleanrooms_collaboration_created_timestamp_seconds",
        "cleanrooms_privacy_budget_remaining_queries",
        "cleanrooms_access_budget_limit",
    ):
        assert samples(text, gone) == [], gone
        assert f"# TYPE {gone}" not in text
    age = samples(text, "cleanrooms_protected_query_oldest_running_age_seconds")
    assert age == [({}, 600.0)]
    assert 'collaboration_id="' not in text


def test_the_series_gauge_counts_what_folding_leaves() -> None:
    def counts(world: World) -> dict[str, float]:
        text = world.same()
        return {k["collector"]: v for k, v in samples(text, "cleanrooms_exporter_series")}

    whole, folded = counts(World()), counts(at("target"))
    assert folded["protected_queries"] < whole["protected_queries"]
    assert folded["ml_audiences"] == whole["ml_audiences"] - 1  # two ages became one
    assert folded["collaborations"] < whole["collaborations"]


def finished(world: World) -> float:
    (found,) = samples(world.same(), "cleanrooms_protected_queries_finished_total")
    return found[1]


def test_a_folded_counter_keeps_what_a_membership_that_left_counted() -> None:
    world = at("target")
    assert finished(world) == 7  # 3 (m1) + 4 (m2)
    # m2 leaves its collaboration; m1 counts one more failure.
    world.snapshot = snapshot(collector_data({"c1": {"FAILED": 4}}), active={"c1": "m1"})
    assert finished(world) == 8  # not 4: m2's four stay counted
    # m2 comes back and starts counting from 0, as a membership the exporter starts watching.
    world.snapshot = snapshot(collector_data({"c1": {"FAILED": 4}, "c2": {"FAILED": 0}}))
    assert finished(world) == 8
    world.snapshot = snapshot(collector_data({"c1": {"FAILED": 5}, "c2": {"FAILED": 2}}))
    assert finished(world) == 11
    # The same poll's data rendered again (a second scrape, the other format) moves nothing.
    assert finished(world) == 11
    world.same(OPENMETRICS)
    assert finished(world) == 11


def test_a_reload_that_changes_the_detail_starts_new_series_that_never_fall() -> None:
    world = World()
    name = "cleanrooms_protected_queries_finished_total"
    seen: dict[tuple[tuple[str, str], ...], list[float]] = {}
    both, first = {"c1": "m1", "c2": "m2"}, {"c1": "m1"}
    steps = [
        ("item", both, 3, 4),
        ("target", both, 3, 4),  # a reload to target: a new series, fewer labels
        ("target", both, 5, 4),
        ("item", first, 6, 4),  # back to item, and m2 leaves meanwhile
        ("target", first, 6, 4),  # target again: the same series as before, carried on
    ]
    for level, active, one, two in steps:
        world.with_detail(protected_queries=level)
        data = collector_data({"c1": {"FAILED": one}, "c2": {"FAILED": two}})
        world.snapshot = snapshot(data, active)
        for labels, value in samples(world.same(), name):
            seen.setdefault(tuple(sorted(labels.items())), []).append(value)
    # Not 6 at the end (m1's alone): m2's four stay counted, m1's one more is added.
    assert seen[(("status", "FAILED"),)] == [7, 9, 10]
    assert all(values == sorted(values) for values in seen.values())
    per_membership = [k for k in seen if ("membership_id", "m1") in k]
    assert per_membership
    assert all(len(k) == 3 for k in per_membership)  # more labels: other series


def test_new_collectors_fold_without_declaring_anything() -> None:
    """The defaults: counts and counters sum, info and timestamps drop, ages keep the max."""
    labels = ("membership_id", "collaboration_id", "schema_name", "status")
    count = gauge("cleanrooms_things", "Things.", *labels)
    total = counter("cleanrooms_things_failed", "Failed.", *labels)
    stamp = gauge("cleanrooms_thing_created_timestamp_seconds", "When.", *labels)
    info = Family("cleanrooms_thing", "info", "About.", labels)
    assert item_labels(labels) == ("schema_name",)
    assert [f.folding for f in (count, total, stamp, info)] == ["sum", "sum", "drop", "drop"]
    assert folding.plan(count, "membership") is not None
    assert folding.plan(stamp, "membership") is None
    assert folding.plan(info, "item") is not None
    assert folding.plan(info, "membership") is None
    kept = folding.plan(total, "target")
    assert kept is not None
    assert kept.family.labels == ("status",)

    def points(_: TargetData[Any]) -> list[tuple[tuple[str, ...], float | None]]:
        return [(("m1", "a"), 50.0), (("m1", "b"), 20.0), (("m2", "c"), None)]

    age = AgeSpec("cleanrooms_thing_age_seconds", "Age.", ("membership_id", "thing_id"), points)
    item = TargetData(("1", "r"), None)
    assert folding.folded_age(age, "membership").points(item) == [(("m1",), 20.0), (("m2",), None)]
    assert folding.folded_age(age, "target").points(item) == [((), 20.0)]


# Labels whose values are few and documented (statuses, reasons, roles, kinds): kept at
# every detail level. A label of a new collector that is neither these, a scope, nor an
# item label (by name or by the family's ``items``) fails the test below: say which it is.
CATEGORICAL = frozenset(
    {
        "account_role",
        "aggregation",
        "analysis_rule_type",
        "analytics_engine",
        "budget_type",
        "collector",
        "error_code",
        "member_status",
        "publication",
        "quota_code",
        "quota_name",
        "reason",
        "reason_code",
        "retryable",
        "status",
        "type",
    }
)


def test_every_label_of_every_collector_is_a_scope_an_item_or_a_small_set() -> None:
    """A label that names items but is not folded away would keep per-item series at
    every level: each is a scope, an item label (by name or declared) or a small set."""
    unknown = set()
    for spec in REGISTRY:
        declared = [(f.name, f.labels, f.items) for f in spec.rendering.families]
        declared += [(a.name, a.labels, a.items) for a in spec.rendering.ages]
        for name, labels, items in declared:
            folded = set(dropped_labels(labels, items, "target"))
            unknown |= {(name, label) for label in labels if label not in folded | CATEGORICAL}
    assert unknown == set()


def test_a_collector_s_detail_is_its_own() -> None:
    world = World()
    world.with_detail(protected_queries="target")
    text = world.same()
    assert samples(text, "cleanrooms_protected_queries_finished_total") == [
        ({"status": "FAILED"}, 7.0)
    ]
    jobs = samples(text, "cleanrooms_protected_jobs_finished_total")
    assert jobs
    assert all("membership_id" in labels for labels, _ in jobs)
    assert replace(SETTINGS).detail == ()


def test_two_memberships_of_one_collaboration_never_break_the_scrape() -> None:
    """Relabelled families assume one membership per collaboration; bad data keeps the first."""
    world = World()
    world.with_detail(memberships="collaboration", privacy_budgets="collaboration")
    data = collector_data()
    twin = replace(data["memberships"].memberships[0], id="m9")  # a second membership of c1
    data["memberships"] = replace(
        data["memberships"], memberships=(*data["memberships"].memberships, twin)
    )
    world.snapshot = snapshot(data)
    text = world.same()
    payments = samples(text, "cleanrooms_membership_payment_info")
    assert [labels["collaboration_id"] for labels, _ in payments] == ["c1", "c2"]

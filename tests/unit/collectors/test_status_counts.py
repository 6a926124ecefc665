"""Counting by status, written once: zeros, unknown statuses, counted once, oldest in progress."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import botocore.session
import pytest

from exporter.collectors import REGISTRY, listings, ml_audiences, protected_analyses
from exporter.collectors.status_counts import (
    Item,
    StatusRules,
    fresh,
    newly_counted,
    parse_item,
    tally,
    tally_groups,
)

RULES = StatusRules(
    ("CREATE_IN_PROGRESS", "CREATE_FAILED", "ACTIVE"),
    once=("CREATE_FAILED",),
    in_progress=("CREATE_IN_PROGRESS",),
)
NOW = 1_800_000_000.0


def item(rid: str, status: str, created: float = NOW - 60) -> Item:
    return Item(rid, status, created)


def test_every_status_present_unknown_ones_kept_and_a_repeated_id_once() -> None:
    found = tally(RULES, [item("a", "ACTIVE"), item("a", "ACTIVE"), item("b", "NEW")], None)
    assert dict(found.counts) == {
        "ACTIVE": 1,
        "CREATE_FAILED": 0,
        "CREATE_IN_PROGRESS": 0,
        "NEW": 1,
    }
    assert list(found.counts) == sorted(found.counts)


def test_the_first_tally_is_a_baseline_and_each_later_failure_counts_once() -> None:
    first = tally(RULES, [item("old", "CREATE_FAILED"), item("t", "CREATE_IN_PROGRESS")], None)
    assert first.once_total == 0
    second = tally(RULES, [item("old", "CREATE_FAILED"), item("t", "CREATE_FAILED")], first)
    assert second.once_total == 1
    third = tally(RULES, [item("old", "CREATE_FAILED"), item("t", "CREATE_FAILED")], second)
    assert third.once_total == 1
    # A whole listing forgets what it no longer lists: memory stays one listing's worth.
    gone = tally(RULES, [item("t", "CREATE_FAILED")], third)
    assert set(gone.seen) == {"t"}
    assert gone.once_total == 1


def test_the_oldest_in_progress_and_how_many() -> None:
    found = tally(
        RULES,
        [item("p", "CREATE_IN_PROGRESS", NOW - 60), item("i", "CREATE_IN_PROGRESS", NOW - 600)],
        None,
    )
    assert (found.oldest_in_progress, found.in_progress) == (NOW - 600, 2)
    assert tally(RULES, [], None).oldest_in_progress is None


def test_groups_first_seen_after_the_baseline_count_and_groups_that_go_keep_their_counter() -> None:
    first = tally_groups(RULES, {("a",): [item("1", "CREATE_FAILED")]}, None)
    assert first[("a",)].once_total == 0  # the baseline, per group
    second = tally_groups(
        RULES,
        {("a",): [item("1", "CREATE_FAILED")], ("b",): [item("2", "CREATE_FAILED")]},
        first,
    )
    assert (second[("a",)].once_total, second[("b",)].once_total) == (0, 1)
    assert newly_counted(first[("a",)], second[("a",)]) == []
    assert newly_counted(fresh(RULES), second[("b",)]) == ["2"]
    gone = tally_groups(RULES, {("a",): [item("1", "CREATE_FAILED")]}, second)
    assert gone[("b",)].once_total == 1  # no longer listed: the counter stays
    assert gone[("b",)].counts == dict.fromkeys(RULES.statuses, 0)
    assert newly_counted(None, first[("a",)]) == []  # nothing new at a baseline


def test_a_windowed_listing_counts_only_what_the_last_window_covered() -> None:
    first = tally(RULES, [item("a", "CREATE_FAILED", 100.0)], None, window_start=50.0)
    # The window widens to 0: "b" was there all along but older than the last window.
    later = [item("a", "CREATE_FAILED", 100.0), item("b", "CREATE_FAILED", 10.0)]
    wider = tally(RULES, [*later, item("c", "CREATE_FAILED", 60.0)], first, window_start=0.0)
    assert wider.once_total == 1  # c only
    # Ids older than the window are forgotten; the ones inside it are not counted again.
    moved = tally(RULES, [item("c", "CREATE_FAILED", 60.0)], wider, window_start=55.0)
    assert set(moved.seen) == {"a", "c"}
    assert moved.once_total == 1


def test_where_the_window_starts_is_not_compared() -> None:
    # A poll that found nothing new keeps the previous data object (by equality).
    one = tally(RULES, [item("a", "ACTIVE")], None, window_start=1.0)
    assert one == tally(RULES, [item("a", "ACTIVE")], None, window_start=2.0)


UPDATED = datetime.fromtimestamp(1_700_000_100, UTC)


def test_a_malformed_summary_is_none_and_only_kept_members_are_kept() -> None:
    summary = {
        "id": "t1",
        "status": "POPULATE_SUCCESS",
        "createTime": datetime.fromtimestamp(1_700_000_000, UTC),
        "updateTime": UPDATED,
        "name": "daily",
        "description": "x" * 1000,
    }
    kept = parse_item(summary, "id", ("name", "updateTime"))
    assert kept is not None
    assert dict(kept.fields) == {"name": "daily", "updateTime": UPDATED}
    assert parse_item({**summary, "createTime": "yesterday"}, "id") is None
    assert parse_item({**summary, "status": ""}, "id") is None
    assert parse_item(["not", "a", "summary"], "id") is None


def _kinds() -> list[tuple[str, str, tuple[str, ...]]]:
    """(operation, list key, statuses) of every kind a collector counts by status."""
    found = []
    for spec in REGISTRY:
        for value in vars(importlib.import_module(f"exporter.collectors.{spec.name}")).values():
            if isinstance(value, listings.ListedKind):
                found.append((value.operation, value.list_key, value.rules.statuses))
            if isinstance(value, protected_analyses.AnalysisKind):
                found.append((value.operation, value.list_key, value.rules.statuses))
    return sorted(set(found))


@pytest.mark.parametrize("kind", _kinds(), ids=lambda k: k[0])
def test_every_status_of_the_service_model_is_exported(
    kind: tuple[str, str, tuple[str, ...]],
) -> None:
    operation, list_key, statuses = kind
    session = botocore.session.get_session()
    models = [session.get_service_model(s) for s in ("cleanrooms", "cleanroomsml")]
    (model,) = [m for m in models if operation in m.operation_names]
    summary = model.operation_model(operation).output_shape.members[list_key].member
    assert set(statuses) == set(summary.members["status"].enum)


def test_the_audience_kinds_are_all_checked() -> None:
    operations = {k[0] for k in _kinds()}
    assert {k.operation for k in ml_audiences.KINDS} <= operations

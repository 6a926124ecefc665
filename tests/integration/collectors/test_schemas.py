"""The schemas collector against the fake: status as it changes, errors[], pages, a denial."""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.app import App
from exporter.demo.fake.schemas_store import not_ready, ready
from exporter.demo.fake.service import FakeCleanRooms
from tests.faultproxy import FaultProxy, Reply, Seen
from tests.helpers import Seeder, config, poll_again, value, where_of

ON = "collectors: {schemas: {enabled: true}}"
REASONS = "cleanrooms_schema_not_ready_reason"
RULE_MISSING = "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED"
NO_RECEIVERS = "RESULT_RECEIVERS_NOT_CONFIGURED"


def reasons(exporter: App, account: str) -> set[tuple[str, str, str]]:
    return {
        (s.labels["schema_name"], s.labels["analysis_rule_type"], s.labels["reason_code"])
        for family in exporter.registry.collect()
        if family.name == REASONS
        for s in family.samples
        if s.labels["account_id"] == account
    }


def test_a_table_going_not_ready_and_back_and_its_series_following(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.id)
    fake.schemas.add_schema(key, "orders", [ready("AGGREGATION"), ready("LIST")], time.time())
    fake.schemas.add_schema(
        key, "ids", [ready("ID_MAPPING_TABLE")], time.time(), "ID_MAPPING_TABLE"
    )
    exporter = run_exporter(proxy.url, config(a, ON))
    where = where_of(a, collaboration)
    age = "cleanrooms_schema_oldest_not_ready_age_seconds"
    assert value(exporter, "cleanrooms_schemas", **where, status="READY") == 2
    assert value(exporter, "cleanrooms_schemas", **where, status="NOT_READY") == 0
    assert value(exporter, "cleanrooms_schemas_by_type", **where, type="ID_MAPPING_TABLE") == 1
    assert reasons(exporter, a) == set()
    assert value(exporter, age, **where) == 0
    # A partner drops the differential privacy policy: the list is the same, the status not.
    details = [not_ready("AGGREGATION", RULE_MISSING, NO_RECEIVERS), ready("LIST")]
    fake.schemas.set_details(key, "orders", details)
    poll_again(exporter, a, "schemas")
    assert value(exporter, "cleanrooms_schemas", **where, status="NOT_READY") == 1
    assert reasons(exporter, a) == {
        ("orders", "AGGREGATION", RULE_MISSING),
        ("orders", "AGGREGATION", NO_RECEIVERS),
    }
    first = value(exporter, age, **where)
    assert first is not None
    assert 0 <= first < 60
    fake.schemas.set_details(key, "orders", [ready("AGGREGATION"), ready("LIST")])
    poll_again(exporter, a, "schemas")
    assert value(exporter, "cleanrooms_schemas", **where, status="NOT_READY") == 0
    assert reasons(exporter, a) == set()
    assert value(exporter, age, **where) == 0
    # Every poll: one ListSchemas and one BatchGetSchema (2 names) per ACTIVE collaboration.
    assert len(proxy.calls("ListSchemas", a)) == 3
    assert len(proxy.calls("BatchGetSchema", a)) == 3


def test_errors_in_a_batch_get_answer_are_counted_and_the_rest_kept(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    key = (a, "us-east-1", collaboration.id)
    for name in ("a", "b", "c"):
        fake.schemas.add_schema(key, name, [ready()], time.time())
    fake.schemas.fail(key, "b", "InternalServerException")
    fake.schemas.fail(key, "c", "AccessDeniedException")
    exporter = run_exporter(proxy.url, config(a, ON))
    where = where_of(a, collaboration)
    errors = "cleanrooms_schema_get_errors"
    assert value(exporter, errors, **where, error_code="InternalServerException") == 1
    assert value(exporter, errors, **where, error_code="AccessDeniedException") == 1
    assert value(exporter, "cleanrooms_schemas", **where, status="READY") == 1
    assert value(exporter, "cleanrooms_schemas_by_type", **where, type="TABLE") == 3
    health = {"account_id": a, "region": "us-east-1", "collector": "schemas"}
    assert value(exporter, "cleanrooms_collector_up", **health) == 1


def test_pages_of_schemas_and_batches_of_25_as_the_formula_says(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    busy, empty = seeder.add(a, "us-east-1", "ACTIVE"), seeder.add(a, "us-east-1", "ACTIVE")
    seeder.add(a, "us-east-1", "INVITED")  # not ACTIVE: not asked
    for index in range(230):
        fake.schemas.add_schema((a, "us-east-1", busy.id), f"t{index:03d}", [ready()], time.time())
    exporter = run_exporter(proxy.url, config(a, ON))
    assert value(exporter, "cleanrooms_schemas", **where_of(a, busy), status="READY") == 230
    assert value(exporter, "cleanrooms_schemas", **where_of(a, empty), status="READY") == 0
    lists, gets = proxy.calls("ListSchemas", a), proxy.calls("BatchGetSchema", a)
    # ⌈230 / 100⌉ + ⌈230 / 25⌉ for the busy one, 1 + 0 for the empty one.
    assert (len(lists), len(gets)) == (3 + 1, 10)
    assert all(c.query["maxResults"] == ["100"] for c in lists)
    assert {c.path.split("/")[2] for c in gets} == {busy.id}


def test_a_denial_of_list_schemas_takes_down_only_that_targets_schemas_collector(
    proxy: FaultProxy,
    fake: FakeCleanRooms,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, b = new_account(), new_account()
    for account in (a, b):
        collaboration = seeder.add(account, "us-east-1", "ACTIVE")
        fake.schemas.add_schema((account, "us-east-1", collaboration.id), "t", [ready()], 0.0)

    def deny(seen: Seen) -> Reply | None:
        if seen.operation == "ListSchemas" and seen.account_id == a:
            return Reply.aws_error(403, "AccessDeniedException", "no cleanrooms:ListSchemas")
        return None

    proxy.rules.append(deny)
    accounts = ", ".join(
        f"{{role_arn: 'arn:aws:iam::{x}:role/R', regions: [us-east-1]}}" for x in (a, b)
    )
    collectors = "collectors: {schemas: {enabled: true}, memberships: {enabled: true}}"
    exporter = run_exporter(proxy.url, f"accounts: [{accounts}]\n{collectors}")

    def up(account: str, collector: str) -> float | None:
        labels = {"account_id": account, "region": "us-east-1", "collector": collector}
        return value(exporter, "cleanrooms_collector_up", **labels)

    assert up(a, "schemas") == 0
    error = {"account_id": a, "region": "us-east-1", "collector": "schemas"}
    info = {**error, "operation": "ListSchemas", "error_code": "AccessDeniedException"}
    assert value(exporter, "cleanrooms_collector_last_error_info", **info) == 1
    assert (up(a, "memberships"), up(a, "collaborations")) == (1, 1)
    assert value(exporter, "cleanrooms_target_up", account_id=a, region="us-east-1") == 1
    assert up(b, "schemas") == 1
    assert proxy.calls("BatchGetSchema", a) == []

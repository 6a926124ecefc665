"""The collaborations collector against moto: every status, pagination, role accounts."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.app import App
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, role, value


def test_two_role_accounts_two_regions_all_statuses_and_pagination(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, b = new_account(), new_account()
    seeder.statuses(a, "us-east-1", INVITED=2, ACTIVE=3, LEFT=1, REMOVED=1)
    seeder.statuses(a, "eu-west-2", ACTIVE=250)  # three pages of 100
    seeder.statuses(b, "us-east-1", INVITED=1, REMOVED=4)
    # b/eu-west-2 has nothing: its four statuses must still be exported as 0.
    exporter = run_exporter(
        proxy.url,
        f"""
accounts:
  - role_arn: {role(a)}
    name: alpha
    external_id: ext-a
    regions: [us-east-1, eu-west-2]
  - role_arn: {role(b)}
    regions: [us-east-1, eu-west-2]
""",
    )
    expected = {
        (a, "us-east-1"): {"INVITED": 2, "ACTIVE": 3, "LEFT": 1, "REMOVED": 1},
        (a, "eu-west-2"): {"INVITED": 0, "ACTIVE": 250, "LEFT": 0, "REMOVED": 0},
        (b, "us-east-1"): {"INVITED": 1, "ACTIVE": 0, "LEFT": 0, "REMOVED": 4},
        (b, "eu-west-2"): {"INVITED": 0, "ACTIVE": 0, "LEFT": 0, "REMOVED": 0},
    }
    for (account, region), counts in expected.items():
        check_target(exporter, {"account_id": account, "region": region}, counts)
    # The minimum: ceil(n/100) ListCollaborations calls per target, every page at maxResults=100.
    listing = proxy.calls("ListCollaborations")
    assert len(listing) == 3 + 1 + 1 + 1
    assert all(call.query["maxResults"] == ["100"] for call in listing)
    # One AssumeRole per account, shared by both regions, with external id and session name.
    for account in (a, b):
        calls = proxy.calls("AssumeRole", account)
        assert len(calls) == 1
        assert "RoleSessionName=cleanrooms-exporter" in calls[0].body
    assert "ExternalId=ext-a" in proxy.calls("AssumeRole", a)[0].body
    assert value(exporter, "cleanrooms_account_info", account_id=a, account_name="alpha") == 1
    assert value(exporter, "cleanrooms_exporter_targets") == 4
    info = [
        s
        for family in text_string_to_metric_families(generate_latest(exporter.registry).decode())
        if family.name == "cleanrooms_collaboration_info"
        for s in family.samples
    ]
    assert len(info) == 7 + 250 + 5


def check_target(exporter: App, labels: dict[str, str], counts: dict[str, int]) -> None:
    """One target's counts, health, and ceil(n/100) listing calls."""
    for status, count in counts.items():
        found = value(exporter, "cleanrooms_collaborations", **labels, member_status=status)
        assert found == count
    assert value(exporter, "cleanrooms_target_up", **labels) == 1
    assert value(exporter, "cleanrooms_target_polls_total", **labels) == 1
    pages = 3 if sum(counts.values()) == 250 else 1
    requests = "cleanrooms_api_requests_total"
    assert value(exporter, requests, **labels, operation="ListCollaborations") == pages


def test_collaborations_by_analytics_engine_from_moto(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    spark = seeder.add(a, "us-east-1", "ACTIVE", engine="SPARK")
    seeder.add(a, "us-east-1", "ACTIVE", engine="CLEAN_ROOMS_SQL")
    seeder.add(a, "us-east-1", "INVITED", engine="SPARK")
    seeder.add(a, "us-east-1", "ACTIVE")  # moto leaves analyticsEngine out
    exporter = run_exporter(
        proxy.url, f"accounts: [{{role_arn: '{role(a)}', regions: [us-east-1]}}]"
    )
    where = {"account_id": a, "region": "us-east-1"}
    name = "cleanrooms_collaborations_by_analytics_engine"
    counts = {
        (status, engine): value(
            exporter, name, **where, member_status=status, analytics_engine=engine
        )
        for status in ("ACTIVE", "INVITED")
        for engine in ("SPARK", "CLEAN_ROOMS_SQL", "unknown")
    }
    assert counts == {
        ("ACTIVE", "SPARK"): 1,
        ("ACTIVE", "CLEAN_ROOMS_SQL"): 1,
        ("ACTIVE", "unknown"): 1,
        ("INVITED", "SPARK"): 1,
        ("INVITED", "CLEAN_ROOMS_SQL"): 0,
        ("INVITED", "unknown"): None,  # only where there is one
    }
    info = {
        **where,
        "collaboration_id": spark.id,
        "collaboration_name": spark.name,
        "creator_account_id": "444444444444",
        "creator_display_name": "Partner",
        "member_status": "ACTIVE",
        "membership_id": spark.membership_id,
        "analytics_engine": "SPARK",
    }
    assert value(exporter, "cleanrooms_collaboration_info", **info) == 1

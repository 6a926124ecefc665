"""The memberships collector against moto: counts by status, info series, calls per poll."""

from __future__ import annotations

from collections.abc import Callable

from exporter.app import App
from tests.faultproxy import FaultProxy
from tests.helpers import Seeder, config, role, value


def test_counts_by_status_and_one_info_series_per_membership(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    payer = seeder.membership(a, "us-east-1", "ACTIVE", payer=True)
    seeder.membership(a, "us-east-1", "ACTIVE", payer=False)
    removed = seeder.membership(a, "us-east-1", "REMOVED", payer=False)
    seeder.membership(a, "us-east-1", "SUSPENDED")  # a status AWS may add: kept as received
    exporter = run_exporter(proxy.url, config(a))
    target = {"account_id": a, "region": "us-east-1"}
    counts = {
        s: value(exporter, "cleanrooms_memberships", **target, status=s)
        for s in ("ACTIVE", "REMOVED", "COLLABORATION_DELETED", "SUSPENDED")
    }
    assert counts == {"ACTIVE": 2, "REMOVED": 1, "COLLABORATION_DELETED": 0, "SUSPENDED": 1}
    for membership, status, pays in ((payer, "ACTIVE", "true"), (removed, "REMOVED", "false")):
        labels = {
            **target,
            "membership_id": membership.id,
            "collaboration_id": membership.collaboration_id,
            "collaboration_name": membership.collaboration_name,
            "status": status,
            "query_compute_payer": pays,
        }
        assert value(exporter, "cleanrooms_membership_info", **labels) == 1
    assert len(proxy.calls("ListMemberships", a)) == 1
    assert value(exporter, "cleanrooms_collector_up", **target, collector="memberships") == 1


def test_calls_per_poll_are_one_per_hundred_memberships(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a, empty = new_account(), new_account()
    for _ in range(150):
        seeder.membership(a, "us-east-1")
    exporter = run_exporter(
        proxy.url,
        f"accounts: [{{role_arn: '{role(a)}'}}, {{role_arn: '{role(empty)}'}}]\n"
        "regions: [us-east-1]\n",
    )
    assert len(proxy.calls("ListMemberships", a)) == 2  # ceil(150 / 100)
    assert len(proxy.calls("ListMemberships", empty)) == 1  # at least one call
    assert all(c.query["maxResults"] == ["100"] for c in proxy.calls("ListMemberships"))
    target = {"account_id": a, "region": "us-east-1"}
    assert value(exporter, "cleanrooms_memberships", **target, status="ACTIVE") == 150
    zero = {"account_id": empty, "region": "us-east-1", "status": "ACTIVE"}
    assert value(exporter, "cleanrooms_memberships", **zero) == 0


def test_disabled_memberships_make_no_call_and_no_series(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    seeder.membership(a, "us-east-1")
    exporter = run_exporter(proxy.url, config(a, "collectors: {memberships: {enabled: false}}"))
    target = {"account_id": a, "region": "us-east-1"}
    assert proxy.calls("ListMemberships", a) == []
    assert value(exporter, "cleanrooms_memberships", **target, status="ACTIVE") is None
    assert value(exporter, "cleanrooms_collector_up", **target, collector="memberships") is None
    assert value(exporter, "cleanrooms_collector_up", **target, collector="collaborations") == 1

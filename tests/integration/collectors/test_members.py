"""The members collector: counts per ACTIVE collaboration, fan-out cost, vanishing series."""

from __future__ import annotations

from collections.abc import Callable

from moto.cleanrooms.models import cleanrooms_backends

from exporter.app import App
from tests.faultproxy import FaultProxy, wait_for
from tests.helpers import Seeder, config, set_members, value

MEMBERS_ON = "collectors: {members: {enabled: true}}\n"


def test_member_counts_per_active_collaboration_and_calls_per_poll(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    small = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(small, ACTIVE=2, LEFT=1)
    big = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(big, ACTIVE=140, REMOVED=10)  # two pages
    invited = seeder.add(a, "us-east-1", "INVITED")
    seeder.add(a, "us-east-1", "LEFT")
    exporter = run_exporter(proxy.url, config(a, MEMBERS_ON))
    target = {"account_id": a, "region": "us-east-1"}

    def members(collaboration: str, status: str) -> float | None:
        return value(
            exporter,
            "cleanrooms_collaboration_members",
            **target,
            collaboration_id=collaboration,
            status=status,
        )

    assert [members(small.id, s) for s in ("INVITED", "ACTIVE", "LEFT", "REMOVED")] == [0, 2, 1, 0]
    assert [members(big.id, s) for s in ("INVITED", "ACTIVE", "LEFT", "REMOVED")] == [0, 140, 0, 10]
    assert members(invited.id, "INVITED") is None  # only ACTIVE collaborations are asked
    # The formula: sum over ACTIVE collaborations of ceil(members / 100), at least 1 each.
    calls = proxy.calls("ListMembers", a)
    assert len(calls) == 1 + 2
    assert {c.path.split("/")[2] for c in calls} == {small.id, big.id}
    # No call to find the collaborations: the collaborations collector's data is reused.
    assert len(proxy.calls("ListCollaborations", a)) == 1


def test_series_vanish_with_their_collaboration_before_the_next_members_poll(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    gone = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(gone, ACTIVE=3)
    stays = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(stays, ACTIVE=1)
    exporter = run_exporter(
        proxy.url,
        config(
            a,
            "poll_interval: 1s\nstale_after: 1h\n"
            "collectors: {members: {enabled: true, interval: 1h}}\n",
        ),
    )
    labels = {"account_id": a, "region": "us-east-1", "status": "ACTIVE"}
    name = "cleanrooms_collaboration_members"
    assert value(exporter, name, **labels, collaboration_id=gone.id) == 3
    del cleanrooms_backends[a]["us-east-1"].collaborations[gone.id]
    wait_for(lambda: value(exporter, name, **labels, collaboration_id=gone.id) is None, 10)
    assert value(exporter, name, **labels, collaboration_id=stays.id) == 1
    assert len(proxy.calls("ListMembers", a)) == 2  # the members collector did not poll again

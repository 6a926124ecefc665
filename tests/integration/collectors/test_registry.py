"""The collector design: isolation, own schedules, reload, flags, config, and cached rendering."""

from __future__ import annotations

from collections.abc import Callable

from exporter.app import App
from exporter.config import parse_config
from tests.faultproxy import FaultProxy, Reply, always, wait_for
from tests.helpers import Seeder, config, set_members, value

ALL_ON = (
    "collectors: {memberships: {enabled: true}, members: {enabled: true}, "
    "change_requests: {enabled: true}}\n"
)


def test_access_denied_on_one_operation_leaves_the_others_alone(
    proxy: FaultProxy,
    run_exporter: Callable[..., App],
    seeder: Seeder,
    new_account: Callable[[], str],
) -> None:
    a = new_account()
    active = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(active, ACTIVE=2)
    seeder.add(a, "us-east-1", "INVITED")
    denied = Reply.aws_error(403, "AccessDeniedException", "not authorized: cleanrooms:ListMembers")
    proxy.rules.append(always(denied, "ListMembers"))
    exporter = run_exporter(proxy.url, config(a, ALL_ON))
    target = {"account_id": a, "region": "us-east-1"}
    up = {
        name: value(exporter, "cleanrooms_collector_up", **target, collector=name)
        for name in ("collaborations", "memberships", "members", "change_requests")
    }
    assert up == {"collaborations": 1, "memberships": 1, "members": 0, "change_requests": 1}
    assert value(exporter, "cleanrooms_target_up", **target) == 1
    assert value(exporter, "cleanrooms_collaborations", **target, member_status="INVITED") == 1
    assert value(exporter, "cleanrooms_memberships", **target, status="ACTIVE") == 1
    labels = {"collaboration_id": active.id}
    assert value(exporter, "cleanrooms_change_requests_pending", **target, **labels) == 0
    assert (
        value(exporter, "cleanrooms_collaboration_members", **target, **labels, status="ACTIVE")
        is None
    )
    error = {"operation": "ListMembers", "error_code": "AccessDeniedException"}
    assert value(exporter, "cleanrooms_api_errors_total", **target, **error) == 1
    assert (
        value(
            exporter, "cleanrooms_collector_last_error_info", **target, collector="members", **error
        )
        == 1
    )
    assert value(exporter, "cleanrooms_target_last_error_info", **target, **error) is None


def test_reload_enables_and_disables_a_collector(
    proxy: FaultProxy, seeder: Seeder, new_account: Callable[[], str]
) -> None:
    a = new_account()
    collaboration = seeder.add(a, "us-east-1", "ACTIVE")
    set_members(collaboration, ACTIVE=1, LEFT=1)
    base = (
        f"aws: {{endpoint_url: '{proxy.url}', max_attempts: 1}}\n"
        "poll_interval: 1h\nstale_after: 2h\n" + config(a)
    )
    text = {"now": base}
    app = App(parse_config(base, {}), lambda: parse_config(text["now"], {}))
    app.poller.start()
    try:
        assert app.poller.wait_ready(30)
        labels = {"account_id": a, "region": "us-east-1", "collaboration_id": collaboration.id}
        name = "cleanrooms_collaboration_members"
        assert value(app, name, **labels, status="LEFT") is None
        text["now"] = base + "collectors: {members: {enabled: true}}\n"
        assert app.reload()[0]
        wait_for(lambda: value(app, name, **labels, status="LEFT") == 1)
        text["now"] = base
        assert app.reload()[0]
        assert value(app, name, **labels, status="LEFT") is None  # gone at the next scrape
        health = {"account_id": a, "region": "us-east-1", "collector": "members"}
        assert value(app, "cleanrooms_collector_up", **health) is None
        assert value(app, "cleanrooms_collector_up", **{**health, "collector": "memberships"}) == 1
    finally:
        app.poller.stop()

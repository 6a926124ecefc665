"""Test helpers: seeding moto's Clean Rooms backend directly."""

from __future__ import annotations

import time
from typing import Any

from moto.cleanrooms.models import cleanrooms_backends

from exporter.app import App
from exporter.collectors.collaborations import Collaboration
from tests.faultproxy import wait_for


class Seeder:
    """Creates collaborations with chosen status, creator and age in moto's backends."""

    def __init__(self) -> None:
        self.created = 0

    def add(
        self,
        account_id: str,
        region: str,
        status: str = "ACTIVE",
        *,
        name: str | None = None,
        creator: str = "444444444444",
        display_name: str = "Partner",
        age: float = 3600.0,
        now: float | None = None,
        engine: str | None = None,
    ) -> Any:
        self.created += 1
        backend = cleanrooms_backends[account_id][region]
        collaboration = backend.create_collaboration(
            name=name or f"collab-{self.created}",
            description="test",
            creator_display_name=display_name,
            creator_member_abilities=[],
            query_log_status="DISABLED",
            members=[],
            data_encryption_metadata=None,
            analytics_engine=engine,
            tags=None,
        )
        created = (now or time.time()) - age
        collaboration.creator_account_id = creator
        collaboration.create_time = created
        collaboration.update_time = created + 60
        collaboration.member_status = status
        if status == "ACTIVE":  # a real moto membership, so ListMemberships lists it
            backend.create_membership(
                collaboration_identifier=collaboration.id,
                query_log_status="DISABLED",
                payment_configuration=None,
                default_result_configuration=None,
                tags=None,
            )
        return collaboration

    def share(self, collaboration: Any, account_id: str, region: str) -> Any:
        """``account_id`` joins ``collaboration`` (of another account) as a member: the same
        collaboration id in its own backend, with a membership of its own."""
        backend = cleanrooms_backends[account_id][region]
        joined = self.add(account_id, region, "INVITED", creator=collaboration.creator_account_id)
        del backend.collaborations[joined.id]
        joined.id, joined.arn, joined.name = collaboration.id, collaboration.arn, collaboration.name
        backend.collaborations[joined.id] = joined
        backend.create_membership(
            collaboration_identifier=joined.id,
            query_log_status="DISABLED",
            payment_configuration=None,
            default_result_configuration=None,
            tags=None,
        )
        return joined

    def membership(
        self, account_id: str, region: str, status: str = "ACTIVE", payer: bool = True
    ) -> Any:
        """A membership (of a new ACTIVE collaboration) with the given status and payer flag."""
        collaboration = self.add(account_id, region, "ACTIVE")
        membership = cleanrooms_backends[account_id][region].memberships[
            collaboration.membership_id
        ]
        membership.status = status
        membership.payment_configuration = {"queryCompute": {"isResponsible": payer}}
        return membership

    def statuses(self, account_id: str, region: str, **counts: int) -> None:
        """Add ``counts`` collaborations per status, e.g. ``ACTIVE=3, INVITED=2``."""
        for status, count in counts.items():
            for _ in range(count):
                self.add(account_id, region, status)


def set_members(collaboration: Any, **counts: int) -> None:
    """Make ListMembers of ``collaboration`` answer ``counts`` members per status.

    moto lists every invited member as INVITED; tests need the other statuses too.
    """
    members = []
    for status, count in counts.items():
        for _ in range(count):
            members.append(
                {
                    "accountId": f"{700000000000 + len(members):012d}",
                    "status": status,
                    "displayName": f"member {len(members)}",
                    "abilities": ["CAN_QUERY"],
                    "createTime": collaboration.create_time,
                    "updateTime": collaboration.update_time,
                    "paymentConfiguration": {"queryCompute": {"isResponsible": False}},
                }
            )
    collaboration.member_summaries = lambda: list(members)


def role(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/CleanRoomsReadOnly"


def value(exporter: App, name: str, **labels: str) -> float | None:
    return exporter.registry.get_sample_value(name, labels)


def primary_job(poll: Any, interval: float) -> Any:
    """The primary collector's job around a poll function of the target alone."""
    from exporter.polling.poller import CollectorJob

    return CollectorJob(
        "collaborations",
        lambda target, needed, previous: poll(target),
        interval,
        "ListCollaborations",
        primary=True,
    )


def active_collaboration(collaboration_id: str, membership_id: str) -> Collaboration:
    """An ACTIVE collaboration of this member, for a fan-out collector's parent data."""
    return Collaboration(
        collaboration_id, "name", "999999999999", "Partner", "ACTIVE", membership_id, 0.0, 0.0
    )


def config(account: str, collectors: str = "", regions: str = "[us-east-1]") -> str:
    """A configuration of one role account in ``regions``, then ``collectors`` (YAML)."""
    return f"accounts: [{{role_arn: '{role(account)}', regions: {regions}}}]\n{collectors}"


def where_of(account: str, collaboration: Any, region: str = "us-east-1") -> dict[str, str]:
    """The labels of a membership's series: target, membership and collaboration."""
    return {
        "account_id": account,
        "region": region,
        "membership_id": collaboration.membership_id,
        "collaboration_id": collaboration.id,
    }


def poll_again(exporter: App, account: str, collector: str, region: str = "us-east-1") -> None:
    """Make every collector due now; wait for one more poll of ``collector``."""
    health = {"account_id": account, "region": region, "collector": collector}
    before = value(exporter, "cleanrooms_collector_polls_total", **health) or 0
    exporter.poller.poll_all_now()
    wait_for(lambda: (value(exporter, "cleanrooms_collector_polls_total", **health) or 0) > before)

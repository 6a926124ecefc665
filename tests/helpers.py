"""Test helpers: seeding moto's Clean Rooms backend directly."""

from __future__ import annotations

import time
from typing import Any

from moto.cleanrooms.models import cleanrooms_backends


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
            analytics_engine=None,
            tags=None,
        )
        created = (now or time.time()) - age
        collaboration.creator_account_id = creator
        collaboration.create_time = created
        collaboration.update_time = created + 60
        collaboration.member_status = status
        if status == "ACTIVE":
            collaboration.membership_id = f"{self.created:032x}"
        return collaboration

    def statuses(self, account_id: str, region: str, **counts: int) -> None:
        """Add ``counts`` collaborations per status, e.g. ``ACTIVE=3, INVITED=2``."""
        for status, count in counts.items():
            for _ in range(count):
                self.add(account_id, region, status)

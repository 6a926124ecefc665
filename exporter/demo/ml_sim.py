"""The demo's Clean Rooms ML and intermediate tables: work that trains, hangs, fails, expires.

Per target: an audience model trained nine days ago (older than a week: retrain it) and a
fresh one, a configured audience model, a generation job and its exports, one of which
fails. Per ACTIVE membership (the first two): trained models, inference jobs and input
channels, some in progress that finish or fail within minutes, one inference job hanging
for hours, one that finishes but whose logs fail to publish (a custom model's missing
logs); intermediate tables, one populated and kept, one that fails to populate, one a
data provider disallowed, one that expires in two days; and analysis log exports, one of
which fails. In the first, the collaboration's creator trains and infers while this
account pays: the training fails, and an export of the partner's model to this account
fails too. All of it lives in the fake's stores.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from exporter.demo.fake.log_exports_store import LogExportsStore
from exporter.demo.fake.ml_exports_store import MlExportsStore
from exporter.demo.fake.ml_store import MlStore
from exporter.demo.fake.service import FakeCleanRooms
from exporter.demo.fake.tables_store import IntermediateTablesStore

DAY, HOUR = 86400.0, 3600.0
Key = tuple[str, str, str]
IN_PROGRESS = ("CREATE_PENDING", "CREATE_IN_PROGRESS")


class MlActivity:
    """Seeds and moves the ML resources and intermediate tables of the demo's memberships."""

    def __init__(self, rng: random.Random, clock: Callable[[], float], fake: FakeCleanRooms):
        self._rng, self._clock = rng, clock
        self._ml: MlStore = fake.ml
        self._tables: IntermediateTablesStore = fake.tables
        self._exports: MlExportsStore = fake.ml_exports
        self._logs: LogExportsStore = fake.log_exports
        self._moving: list[tuple[str, str]] = []  # (ARN, what it becomes when it finishes)
        self._populating: list[tuple[Key, str]] = []
        self._failing: list[Callable[[float], None]] = []  # exports that fail, one by one
        self._publishing: list[str] = []  # inference jobs that finish without their logs

    def seed(self, account_id: str, region: str, collaborations: Iterable[Any]) -> None:
        now = self._clock()
        target = (account_id, region)
        stale = self._ml.add_audience_model(target, "shoppers", "ACTIVE", now - 9 * DAY)
        self._ml.add_audience_model(target, "subscribers", "ACTIVE", now - 2 * DAY)
        configured = self._ml.add_configured_audience_model(
            target, "shoppers-lookalike", stale, now
        )
        weekly = self._ml.add_audience_generation_job(
            target, "weekly", configured, "ACTIVE", now - HOUR
        )
        self._exports.add_audience_export(target, weekly, "crm-sync", "ACTIVE", now - HOUR)
        export = self._exports.add_audience_export(
            target, weekly, "ads-sync", "CREATE_IN_PROGRESS", now - 600
        )
        failed = partial(self._exports.set_status, export, "CREATE_FAILED", reason="AccessDenied")
        self._failing.append(failed)
        for index, collaboration in enumerate(list(collaborations)[:2]):
            key = (account_id, region, collaboration.membership_id)
            self._seed_membership(key, collaboration.id, first=index == 0)
            self._seed_log_exports(key, now)
            if index == 0:
                self._seed_partner(key, collaboration.id, collaboration.creator_account_id)

    def _seed_membership(self, key: Key, collaboration_id: str, first: bool) -> None:
        now, ml = self._clock(), self._ml
        ml.add_trained_model(key, collaboration_id, "propensity-v1", "ACTIVE", now - 20 * DAY)
        daily = ml.add_inference_job(key, collaboration_id, "scores-daily", "ACTIVE", now - DAY)
        ml.set_publication(daily, metrics="PUBLISH_SUCCEEDED", logs="PUBLISH_SUCCEEDED")
        ml.add_input_channel(key, collaboration_id, "purchases", "ACTIVE", now - 20 * DAY)
        self._seed_tables(key, collaboration_id, now)
        if not first:
            return
        # Work in progress: it finishes (or fails) within minutes; one inference job hangs.
        training = ml.add_trained_model(
            key, collaboration_id, "propensity-v2", "CREATE_IN_PROGRESS", now - 300
        )
        self._moving.append((training, "CREATE_FAILED"))
        self._moving.append(
            (
                ml.add_trained_model(key, collaboration_id, "churn-v1", "CREATE_PENDING", now),
                "ACTIVE",
            )
        )
        ml.add_inference_job(
            key, collaboration_id, "scores-backfill", "CREATE_IN_PROGRESS", now - 8 * HOUR
        )
        self._publishing.append(
            ml.add_inference_job(
                key, collaboration_id, "custom-scores", "CREATE_IN_PROGRESS", now - 120
            )
        )
        channel = ml.add_input_channel(key, collaboration_id, "clicks", "CREATE_PENDING", now - 60)
        self._moving.append((channel, "CREATE_FAILED"))

    def _seed_tables(self, key: Key, collaboration_id: str, now: float) -> None:
        tables = self._tables
        tables.add_table(
            key, collaboration_id, "daily_reach", "POPULATE_SUCCESS", now - 10 * DAY, now - DAY, 30
        )
        tables.add_table(
            key,
            collaboration_id,
            "expiring_soon",
            "POPULATE_SUCCESS",
            now - 6 * DAY,
            now - 5 * DAY,
            7,
        )
        tables.add_table(
            key, collaboration_id, "partner_only", "DISALLOWED_BY_DATA_PROVIDER", now - 3 * DAY
        )
        started = tables.add_table(
            key, collaboration_id, "weekly_overlap", "POPULATE_STARTED", now - 120, None, 14
        )
        self._populating.append((key, started))

    def _seed_partner(self, key: Key, collaboration_id: str, partner: str) -> None:
        """The collaboration's creator trains and infers; this account (``key``) pays."""
        now, ml = self._clock(), self._ml
        theirs = (partner, key[1], str(uuid.UUID(int=self._rng.getrandbits(128), version=4)))
        model = ml.add_trained_model(
            theirs, collaboration_id, "partner-lookalike", "ACTIVE", now - 5 * DAY, payer=key[0]
        )
        ml.add_inference_job(
            theirs,
            collaboration_id,
            "partner-scores",
            "ACTIVE",
            now - HOUR,
            trained_model_arn=model,
            payer=key[0],
        )
        retrain = "partner-retrain"
        training = ml.add_trained_model(
            theirs, collaboration_id, retrain, "CREATE_IN_PROGRESS", now - 900, payer=key[0]
        )
        self._moving.append((training, "CREATE_FAILED"))
        where = (key[1], collaboration_id, model)
        creator = (partner, theirs[2])
        self._exports.add_model_export(where, creator, (key[0],), "to-us", "ACTIVE", now - DAY)
        export = self._exports.add_model_export(
            where, creator, (key[0],), "to-us-again", "CREATE_IN_PROGRESS", now - 300
        )
        failed = partial(self._exports.set_status, export, "CREATE_FAILED", reason="KmsKeyDisabled")
        self._failing.append(failed)

    def _seed_log_exports(self, key: Key, now: float) -> None:
        """Logs of a few analyses exported; the newest fails (its bucket went away)."""
        for age in (3 * HOUR, 2 * HOUR, HOUR):
            self._logs.add(key, now - age, "SUCCESS")
        running = self._logs.add(key, now - 120)
        self._failing.append(
            partial(self._logs.set_status, key, running, "FAILED", error="NoSuchBucket")
        )

    def step(self) -> None:
        """Now and then, what is in progress finishes: as planned, or a table fails."""
        if self._moving and self._rng.random() < 0.2:
            arn, outcome = self._moving.pop(0)
            self._ml.set_status(arn, outcome, updated=self._clock())
        if self._failing and self._rng.random() < 0.2:
            self._failing.pop(0)(self._clock())
        if self._publishing and self._rng.random() < 0.2:
            job = self._publishing.pop(0)
            self._ml.set_status(job, "ACTIVE", updated=self._clock())
            self._ml.set_publication(job, metrics="PUBLISH_SUCCEEDED", logs="PUBLISH_FAILED")
        if self._populating and self._rng.random() < 0.2:
            key, table = self._populating.pop(0)
            self._tables.set_status(key, table, "POPULATE_FAILED", updated=self._clock())

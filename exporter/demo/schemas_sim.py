"""The demo's tables as each collaboration sees them (schemas), and whether they can be queried.

Every ACTIVE collaboration a target starts with has a few tables that are READY: one with
an aggregation and a list rule, one with a custom rule, an ID mapping table. The first of
each target also has one partners cannot query: NOT_READY for aggregation analyses, for
two reasons (no differential privacy policy, no result receivers), so the status page,
the alert and the dashboards have one to show. All of it lives in the fake's store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from exporter.demo.fake.schemas_store import SchemasStore, not_ready, ready

DAY = 86400.0


class SchemasActivity:
    """Seeds the schemas of the demo's ACTIVE collaborations."""

    def __init__(self, clock: Callable[[], float], store: SchemasStore) -> None:
        self._clock = clock
        self._store = store

    def seed(self, account_id: str, region: str, collaborations: Iterable[Any]) -> None:
        now = self._clock()
        for index, collaboration in enumerate(collaborations):
            key = (account_id, region, collaboration.id)
            add = self._store.add_schema
            add(key, "orders", [ready("AGGREGATION"), ready("LIST")], now - 30 * DAY)
            add(key, "segments", [ready("CUSTOM")], now - 20 * DAY)
            add(key, "id_map", [ready("ID_MAPPING_TABLE")], now - 10 * DAY, "ID_MAPPING_TABLE")
            if index == 0:
                reasons = (
                    "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED",
                    "RESULT_RECEIVERS_NOT_CONFIGURED",
                )
                details = [not_ready("AGGREGATION", *reasons), ready("LIST")]
                add(key, "purchases", details, now - 5 * DAY)

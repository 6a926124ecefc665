"""The fake's intermediate tables, per membership.

moto lacks ListIntermediateTables; this answers it newest first, paged like the API,
and an unknown membership is ResourceNotFound, as in moto's memberships. The server
(``service``) checks every answer against botocore's ``cleanrooms`` model.
"""

from __future__ import annotations

import uuid
from typing import Any

from exporter.demo.fake.analyses_store import membership_arn
from exporter.demo.fake.api import (
    Handler,
    Request,
    Route,
    Store,
    known_membership,
    paginate,
    register,
)

Key = tuple[str, str, str]  # (account_id, region, membership_id)
TABLES = "intermediateTableSummaries"


@register
class IntermediateTablesStore(Store):
    """Intermediate table summaries as the API sends them, per (account, region, membership)."""

    name = "tables"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[Key, list[dict[str, Any]]] = {}

    def routes(self) -> dict[Route, Handler]:
        return {("cleanrooms", "ListIntermediateTables"): self._list}

    def add_table(  # noqa: PLR0917 (the agreed seeding signature)
        self,
        key: Key,
        collaboration_id: str,
        name: str,
        status: str,
        created: float,
        updated: float | None = None,
        retention_days: int | None = None,
    ) -> str:
        """An intermediate table of the membership ``key``; returns its id."""
        account_id, region, membership_id = key
        table_id = str(uuid.uuid4())
        base = membership_arn(*key)
        summary: dict[str, Any] = {
            "id": table_id,
            "arn": f"{base}/intermediatetable/{table_id}",
            "name": name,
            "membershipArn": base,
            "membershipId": membership_id,
            "collaborationArn": (
                f"arn:aws:cleanrooms:{region}:{account_id}:collaboration/{collaboration_id}"
            ),
            "collaborationId": collaboration_id,
            "createTime": created,
            "updateTime": created if updated is None else updated,
            "status": status,
        }
        if retention_days is not None:
            summary["retentionInDays"] = retention_days
        with self.lock:
            self.items.setdefault(key, []).append(summary)
        return table_id

    def set_status(
        self, key: Key, table_id: str, status: str, updated: float | None = None
    ) -> None:
        """Move a table to ``status``; ``updated`` (if given) becomes its updateTime.

        Raises KeyError for a table ``add_table`` never made: a seeding mistake must be loud.
        """
        with self.lock:
            for summary in self.items.get(key, []):
                if summary["id"] == table_id:
                    summary["status"] = status
                    if updated is not None:
                        summary["updateTime"] = updated
                    return
        raise KeyError(f"no intermediate table {table_id} in membership {key[2]}")

    def tables(self, key: Key) -> list[dict[str, Any]]:
        """Copies of the membership's tables, newest first."""
        with self.lock:
            found = [dict(s) for s in self.items.get(key, [])]
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def _list(self, request: Request) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        key = (request.account_id, request.region, membership_id)
        return paginate(self.tables(key), request.query, TABLES)

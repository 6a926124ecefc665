"""The fake's collaboration change requests: ListCollaborationChangeRequests, per collaboration.

moto lacks the operation; this answers it with an optional status filter, paged like the
API, and an unknown collaboration is ResourceNotFound, as moto's collaborations are.
"""

from __future__ import annotations

import uuid
from typing import Any

from exporter.demo.fake.api import (
    Handler,
    Request,
    Route,
    Store,
    known_collaboration,
    paginate,
    register,
)

Key = tuple[str, str, str]  # (account_id, region, collaboration_id)
LIST_KEY = "collaborationChangeRequestSummaries"


@register
class ChangeRequestsStore(Store):
    """Change request summaries as the API sends them, per (account, region, collaboration)."""

    name = "change_requests"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[Key, list[dict[str, Any]]] = {}

    def routes(self) -> dict[Route, Handler]:
        return {("cleanrooms", "ListCollaborationChangeRequests"): self._list}

    def add(self, key: Key, created: float, status: str = "PENDING") -> str:
        """A change request that adds a member; returns its id."""
        request_id = str(uuid.uuid4())
        summary = {
            "id": request_id,
            "collaborationId": key[2],
            "createTime": created,
            "updateTime": created,
            "status": status,
            "isAutoApproved": False,
            "changes": [
                {
                    "specificationType": "MEMBER",
                    "specification": {
                        "member": {
                            "accountId": "666666666666",
                            "memberAbilities": ["CAN_RECEIVE_RESULTS"],
                            "displayName": "New partner",
                        }
                    },
                    "types": ["ADD_MEMBER"],
                }
            ],
        }
        with self.lock:
            self.items.setdefault(key, []).append(summary)
        return request_id

    def set_status(self, key: Key, request_id: str, status: str, when: float) -> None:
        with self.lock:
            for summary in self.items.get(key, []):
                if summary["id"] == request_id:
                    summary.update(status=status, updateTime=when)

    def pending(self, key: Key) -> list[str]:
        """Ids of the collaboration's PENDING change requests, oldest first."""
        with self.lock:
            found = [s for s in self.items.get(key, []) if s["status"] == "PENDING"]
        return [s["id"] for s in sorted(found, key=lambda s: s["createTime"])]

    def _list(self, request: Request) -> dict[str, Any]:
        collaboration_id = request.path["collaborationIdentifier"]
        known_collaboration(request, collaboration_id)
        status = request.query.get("status")
        key = (request.account_id, request.region, collaboration_id)
        with self.lock:
            summaries = [
                dict(s) for s in self.items.get(key, []) if status is None or s["status"] == status
            ]
        return paginate(summaries, request.query, LIST_KEY)

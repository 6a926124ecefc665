"""The fake's analysis log exports, per membership: ListAnalysisLogExports, GetAnalysisLogExport.

Clean Rooms operations (epoch-second timestamps). The list answers a membership's exports
newest first (optionally of one status or analysis), paged like the API; the Get answers
one with its S3 destination and, once FAILED, its error. An unknown membership is
ResourceNotFound, as in moto's memberships. The server checks every answer against
botocore's ``cleanrooms`` model, and counts the Gets per export.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from exporter.demo.fake.api import (
    ErrorAnswer,
    Handler,
    Request,
    Route,
    Store,
    known_membership,
    paginate,
    register,
)

Key = tuple[str, str, str]  # (account_id, region, membership_id)
LIST_KEY = "analysisLogExports"


@register
class LogExportsStore(Store):
    """Analysis log exports per (account, region, membership)."""

    name = "log_exports"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[Key, list[dict[str, Any]]] = {}
        self.errors: dict[str, dict[str, str]] = {}  # by export id: what a Get says failed
        self.gets: Counter[str] = Counter()

    def routes(self) -> dict[Route, Handler]:
        return {
            ("cleanrooms", "ListAnalysisLogExports"): self._list,
            ("cleanrooms", "GetAnalysisLogExport"): self._get,
        }

    def add(
        self,
        key: Key,
        created: float,
        status: str = "IN_PROGRESS",
        error: str | None = None,
    ) -> str:
        """A log export of a protected query of the membership ``key``; returns its id."""
        export_id = str(uuid.uuid4())
        summary = {
            "analysisLogExportId": export_id,
            "analysisId": str(uuid.uuid4()),
            "analysisType": "PROTECTED_QUERY",
            "status": status,
            "createTime": created,
            "updateTime": created,
        }
        with self.lock:
            self.items.setdefault(key, []).append(summary)
            self._error(export_id, error)
        return export_id

    def set_status(
        self, key: Key, export_id: str, status: str, updated: float, error: str | None = None
    ) -> None:
        """Move an export on; a FAILED one tells ``error`` (its code) to a Get."""
        with self.lock:
            for summary in self.items.get(key, []):
                if summary["analysisLogExportId"] == export_id:
                    summary["status"] = status
                    summary["updateTime"] = updated
            self._error(export_id, error)

    def listed(self, key: Key) -> list[dict[str, Any]]:
        """Copies of the membership's exports, newest first, with updateTime (the Get's)."""
        with self.lock:
            found = [dict(s) for s in self.items.get(key, [])]
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def _error(self, export_id: str, error: str | None) -> None:
        if error is not None:
            self.errors[export_id] = {"code": error, "message": f"{error}: simulated"}

    def _list(self, request: Request) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        key = (request.account_id, request.region, membership_id)
        wanted = {k: request.query[k] for k in ("status",) if k in request.query}
        if "analysisIdentifier" in request.query:
            wanted["analysisId"] = request.query["analysisIdentifier"]
        found = [
            {k: v for k, v in s.items() if k != "updateTime"}
            for s in self.listed(key)
            if all(s.get(k) == v for k, v in wanted.items())
        ]
        return paginate(found, request.query, LIST_KEY)

    def _get(self, request: Request) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        wanted = request.path["analysisLogExportIdentifier"]
        key = (request.account_id, request.region, membership_id)
        found = next((s for s in self.listed(key) if s["analysisLogExportId"] == wanted), None)
        if found is None:
            raise ErrorAnswer(404, "ResourceNotFoundException", f"analysis log export {wanted}")
        with self.lock:
            self.gets[wanted] += 1
            error = self.errors.get(wanted)
        answer = {
            **found,
            "membershipId": membership_id,
            "resultConfiguration": {
                "outputConfiguration": {
                    "s3": {"bucket": f"logs-{request.region}", "keyPrefix": "analysis/"}
                }
            },
        }
        if found["status"] == "FAILED" and error is not None:
            answer["error"] = dict(error)
        return {"analysisLogExport": answer}

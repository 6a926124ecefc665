"""The fake's Clean Rooms ML export jobs: audience exports per account, model exports per model.

Answers ListAudienceExportJobs per account and region (optionally of one audience
generation job) and ListCollaborationTrainedModelExportJobs per collaboration and trained
model (collaboration-wide: the same for every member; a collaboration unknown to the caller
is ResourceNotFound); newest first, paged like the API. A failed job carries
``statusDetails`` (a status code and a message), as AWS sends why an export failed. The
server sends timestamps as ISO 8601 and checks every answer against the ``cleanroomsml`` model.
"""

from __future__ import annotations

import copy
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

Target = tuple[str, str]  # (account_id, region)
Model = tuple[str, str, str]  # (region, collaboration_id, trained model ARN)
AUDIENCE, MODEL = "audienceExportJobs", "collaborationTrainedModelExportJobs"


@register
class MlExportsStore(Store):
    """Export job summaries as the API sends them; a job is named by its (kind, scope, name)."""

    name = "ml_exports"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[tuple[str, ...], list[dict[str, Any]]]] = {
            AUDIENCE: {},
            MODEL: {},
        }
        self.by_id: dict[str, dict[str, Any]] = {}

    def routes(self) -> dict[Route, Handler]:
        return {
            ("cleanroomsml", "ListAudienceExportJobs"): self._list_audience_exports,
            ("cleanroomsml", "ListCollaborationTrainedModelExportJobs"): self._list_model_exports,
        }

    def add_audience_export(  # noqa: PLR0917 (a job's fields, in the API's order)
        self,
        target: Target,
        generation_job_arn: str,
        name: str,
        status: str,
        created: float,
        reason: str | None = None,
    ) -> str:
        """An export of an audience generation job of ``target``; returns its handle."""
        summary = {
            "createTime": created,
            "updateTime": created,
            "name": name,
            "audienceGenerationJobArn": generation_job_arn,
            "audienceSize": {"type": "ABSOLUTE", "value": 1000},
            "status": status,
            "outputLocation": f"s3://audiences-{target[1]}/{name}/",
        }
        return self._add(AUDIENCE, target, f"{generation_job_arn}/{name}", summary, reason)

    def add_model_export(  # noqa: PLR0917 (a job's fields, in the API's order)
        self,
        model: Model,
        creator: tuple[str, str],
        receivers: tuple[str, ...],
        name: str,
        status: str,
        created: float,
        reason: str | None = None,
    ) -> str:
        """An export of a trained model (``model``) by ``creator`` (account, membership id)
        to ``receivers``; returns its handle."""
        _, collaboration_id, arn = model
        summary = {
            "createTime": created,
            "updateTime": created,
            "name": name,
            "outputConfiguration": {"members": [{"accountId": a} for a in receivers]},
            "status": status,
            "creatorAccountId": creator[0],
            "trainedModelArn": arn,
            "membershipIdentifier": creator[1],
            "collaborationIdentifier": collaboration_id,
        }
        return self._add(MODEL, model, f"{arn}/{name}", summary, reason)

    def set_status(
        self, handle: str, status: str, updated: float, reason: str | None = None
    ) -> None:
        """Move an export job on; a ``reason`` becomes its statusDetails.statusCode.

        Raises KeyError for a handle no ``add_*`` returned: a seeding mistake must be loud.
        """
        with self.lock:
            summary = self.by_id[handle]
            summary["status"] = status
            summary["updateTime"] = updated
            _details(summary, reason)

    def listed(self, kind: str, scope: tuple[str, ...]) -> list[dict[str, Any]]:
        with self.lock:
            found = copy.deepcopy(self.items[kind].get(scope, []))
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def _add(
        self,
        kind: str,
        scope: tuple[str, ...],
        handle: str,
        summary: dict[str, Any],
        reason: str | None,
    ) -> str:
        _details(summary, reason)
        with self.lock:
            self.items[kind].setdefault(scope, []).append(summary)
            self.by_id[handle] = summary
        return handle

    def _list_audience_exports(self, request: Request) -> dict[str, Any]:
        found = self.listed(AUDIENCE, (request.account_id, request.region))
        wanted = request.query.get("audienceGenerationJobArn")
        found = [s for s in found if wanted is None or s["audienceGenerationJobArn"] == wanted]
        return paginate(found, request.query, AUDIENCE)

    def _list_model_exports(self, request: Request) -> dict[str, Any]:
        collaboration_id = request.path["collaborationIdentifier"]
        known_collaboration(request, collaboration_id)  # the caller is a member
        model = (request.region, collaboration_id, request.path["trainedModelArn"])
        return paginate(self.listed(MODEL, model), request.query, MODEL)


def _details(summary: dict[str, Any], reason: str | None) -> None:
    if reason is not None:
        summary["statusDetails"] = {"statusCode": reason, "message": f"{reason}: simulated"}

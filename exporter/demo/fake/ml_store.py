"""The fake's Clean Rooms ML resources: trained models, inference jobs, input channels, audiences.

moto has no Clean Rooms ML at all. Answers ListTrainedModels, ListTrainedModelInferenceJobs
and ListMLInputChannels per membership (an unknown membership is ResourceNotFound, as in
moto's memberships); their collaboration-wide versions (ListCollaborationTrainedModels,
ListCollaborationTrainedModelInferenceJobs, ListCollaborationMLInputChannels: every member's,
the same for every member, each naming its creator) per collaboration (unknown to the caller:
ResourceNotFound); and ListAudienceModels, ListConfiguredAudienceModels and
ListAudienceGenerationJobs per account and region; newest first, paged like the API. A
partner's work is seeded under the partner's account and a membership id of its own. The
server (``service``) sends timestamps as ISO 8601, as the ``cleanroomsml`` model says, and
checks every answer against it.
"""

from __future__ import annotations

import copy
import uuid
from functools import partial
from typing import Any

from exporter.demo.fake.api import (
    Handler,
    Request,
    Route,
    Store,
    known_collaboration,
    known_membership,
    paginate,
    register,
)
from exporter.demo.fake.validate import service_model

Key = tuple[str, str, str]  # (account_id, region, membership_id)
Target = tuple[str, str]  # (account_id, region)

# Each kind is named by the member its List operation returns it under.
TRAINED_MODELS = "trainedModels"
INFERENCE_JOBS = "trainedModelInferenceJobs"
INPUT_CHANNELS = "mlInputChannelsList"
AUDIENCE_MODELS = "audienceModels"
CONFIGURED_AUDIENCE_MODELS = "configuredAudienceModels"
GENERATION_JOBS = "audienceGenerationJobs"
KINDS = (
    TRAINED_MODELS,
    INFERENCE_JOBS,
    INPUT_CHANNELS,
    AUDIENCE_MODELS,
    CONFIGURED_AUDIENCE_MODELS,
    GENERATION_JOBS,
)

# The query parameters a List operation filters by: each must equal the summary's member
# of the same name (a summary without that member never matches).
_FILTERS: dict[str, tuple[str, ...]] = {
    INFERENCE_JOBS: ("trainedModelArn", "trainedModelVersionIdentifier"),
    GENERATION_JOBS: ("configuredAudienceModelArn", "collaborationId"),
}
# The collaboration-wide operations: the kind each lists, and the member it answers under.
COLLABORATION_WIDE = {
    "ListCollaborationTrainedModels": (TRAINED_MODELS, "collaborationTrainedModels"),
    "ListCollaborationTrainedModelInferenceJobs": (
        INFERENCE_JOBS,
        "collaborationTrainedModelInferenceJobs",
    ),
    "ListCollaborationMLInputChannels": (INPUT_CHANNELS, "collaborationMLInputChannelsList"),
}


def ml_arn(target: Target, resource: str) -> str:
    """A new ARN of a Clean Rooms ML resource of the account and region (``resource/<uuid>``)."""
    account_id, region = target
    return f"arn:aws:cleanrooms-ml:{region}:{account_id}:{resource}/{uuid.uuid4()}"


def membership_ml_arn(key: Key, resource: str) -> str:
    """A new ARN of a Clean Rooms ML resource that belongs to the membership ``key``."""
    return ml_arn(key[:2], f"membership/{key[2]}/{resource}")


@register
class MlStore(Store):
    """Clean Rooms ML summaries as the API sends them, per membership or per account/region."""

    name = "ml"

    def __init__(self) -> None:
        super().__init__()
        # kind -> Key (per membership) or Target (per account) -> summaries, oldest added first
        self.items: dict[str, dict[tuple[str, ...], list[dict[str, Any]]]] = {
            kind: {} for kind in KINDS
        }
        self.by_arn: dict[str, dict[str, Any]] = {}  # the same summaries, for set_status

    def routes(self) -> dict[Route, Handler]:
        per_membership = {
            "ListTrainedModels": TRAINED_MODELS,
            "ListTrainedModelInferenceJobs": INFERENCE_JOBS,
            "ListMLInputChannels": INPUT_CHANNELS,
        }
        per_account = {
            "ListAudienceModels": AUDIENCE_MODELS,
            "ListConfiguredAudienceModels": CONFIGURED_AUDIENCE_MODELS,
            "ListAudienceGenerationJobs": GENERATION_JOBS,
        }
        routes: dict[Route, Handler] = {
            ("cleanroomsml", op): partial(self._list_per_membership, kind=kind)
            for op, kind in per_membership.items()
        }
        routes.update(
            {
                ("cleanroomsml", op): partial(self._list_per_account, kind=kind)
                for op, kind in per_account.items()
            }
        )
        routes.update(
            {
                ("cleanroomsml", op): partial(self._list_collaboration_wide, operation=op)
                for op in COLLABORATION_WIDE
            }
        )
        return routes

    # --- per membership --------------------------------------------------------------

    def add_trained_model(  # noqa: PLR0917 (the agreed seeding signature)
        self,
        key: Key,
        collaboration_id: str,
        name: str,
        status: str,
        created: float,
        updated: float | None = None,
        payer: str | None = None,
    ) -> str:
        """A trained model of the membership ``key`` (its account pays unless ``payer``)."""
        arn = membership_ml_arn(key, "trained-model")
        summary = {
            "trainedModelArn": arn,
            "name": name,
            "membershipIdentifier": key[2],
            "collaborationIdentifier": collaboration_id,
            "status": status,
            **_times(created, updated),
            "configuredModelAlgorithmAssociationArn": membership_ml_arn(
                key, "configured-model-algorithm-association"
            ),
            "mlModelTrainingPayerAccountId": payer or key[0],
        }
        return self._add(TRAINED_MODELS, key, arn, summary)

    def add_inference_job(  # noqa: PLR0917 (the agreed seeding signature)
        self,
        key: Key,
        collaboration_id: str,
        name: str,
        status: str,
        created: float,
        updated: float | None = None,
        trained_model_arn: str | None = None,
        payer: str | None = None,
    ) -> str:
        """An inference job of the membership ``key`` (of a new model's ARN if none given;
        its account pays unless ``payer``)."""
        arn = membership_ml_arn(key, "trained-model-inference-job")
        summary = {
            "trainedModelInferenceJobArn": arn,
            "name": name,
            "membershipIdentifier": key[2],
            "collaborationIdentifier": collaboration_id,
            "trainedModelArn": trained_model_arn or membership_ml_arn(key, "trained-model"),
            "status": status,
            **_times(created, updated),
            "outputConfiguration": {"members": [{"accountId": key[0]}]},
            "mlModelInferencePayerAccountId": payer or key[0],
        }
        return self._add(INFERENCE_JOBS, key, arn, summary)

    def add_input_channel(  # noqa: PLR0917 (the agreed seeding signature)
        self,
        key: Key,
        collaboration_id: str,
        name: str,
        status: str,
        created: float,
        updated: float | None = None,
        payer: str | None = None,
    ) -> str:
        """An ML input channel of the membership ``key`` (``payer`` pays its compute)."""
        arn = membership_ml_arn(key, "ml-input-channel")
        association = membership_ml_arn(key, "configured-model-algorithm-association")
        summary = {
            "mlInputChannelArn": arn,
            "name": name,
            "membershipIdentifier": key[2],
            "collaborationIdentifier": collaboration_id,
            "configuredModelAlgorithmAssociations": [association],
            "status": status,
            **_times(created, updated),
        }
        if payer is not None:
            summary["payerConfiguration"] = {"computePayerAccountId": payer}
        return self._add(INPUT_CHANNELS, key, arn, summary)

    # --- per account and region ------------------------------------------------------

    def add_audience_model(
        self, target: Target, name: str, status: str, created: float, updated: float | None = None
    ) -> str:
        """An audience model of the account and region ``target``; returns its ARN."""
        arn = ml_arn(target, "audience-model")
        summary = {
            "audienceModelArn": arn,
            "name": name,
            "trainingDatasetArn": ml_arn(target, "training-dataset"),
            "status": status,
            **_times(created, updated),
        }
        return self._add(AUDIENCE_MODELS, target, arn, summary)

    def add_configured_audience_model(
        self,
        target: Target,
        name: str,
        audience_model_arn: str,
        created: float,
        updated: float | None = None,
    ) -> str:
        """A configured audience model (status ACTIVE, the model's only one); returns its ARN."""
        account_id, region = target
        arn = ml_arn(target, "configured-audience-model")
        summary = {
            "configuredAudienceModelArn": arn,
            "name": name,
            "audienceModelArn": audience_model_arn,
            "outputConfig": {
                "destination": {"s3Destination": {"s3Uri": f"s3://audiences-{region}/{name}/"}},
                "roleArn": f"arn:aws:iam::{account_id}:role/CleanRoomsMLAudiences",
            },
            "status": "ACTIVE",
            **_times(created, updated),
        }
        return self._add(CONFIGURED_AUDIENCE_MODELS, target, arn, summary)

    def add_audience_generation_job(  # noqa: PLR0917 (the agreed seeding signature)
        self,
        target: Target,
        name: str,
        configured_audience_model_arn: str,
        status: str,
        created: float,
        updated: float | None = None,
        collaboration_id: str | None = None,
    ) -> str:
        """An audience generation job of ``target`` (in a collaboration if given); its ARN."""
        arn = ml_arn(target, "audience-generation-job")
        summary = {
            "audienceGenerationJobArn": arn,
            "name": name,
            "configuredAudienceModelArn": configured_audience_model_arn,
            "status": status,
            **_times(created, updated),
            "startedBy": target[0],
        }
        if collaboration_id is not None:
            summary["collaborationId"] = collaboration_id
        return self._add(GENERATION_JOBS, target, arn, summary)

    # --- changes and lists -----------------------------------------------------------

    def set_status(self, arn: str, status: str, updated: float | None = None) -> None:
        """Move any ML resource to ``status``; ``updated`` (if given) becomes its updateTime.

        Raises KeyError for an ARN no ``add_*`` returned: a seeding mistake must be loud.
        """
        with self.lock:
            summary = self.by_arn.get(arn)
            if summary is None:
                raise KeyError(f"no Clean Rooms ML resource {arn}")
            summary["status"] = status
            if updated is not None:
                summary["updateTime"] = updated

    def set_publication(
        self, arn: str, *, metrics: str | None = None, logs: str | None = None
    ) -> None:
        """How an inference job's metrics and logs were published (PUBLISH_SUCCEEDED or
        PUBLISH_FAILED, with a detail for a failure). Raises KeyError for an unknown ARN."""
        with self.lock:
            summary = self.by_arn[arn]
            for member, status in (("metricsStatus", metrics), ("logsStatus", logs)):
                if status is not None:
                    summary[member] = status
                    if status == "PUBLISH_FAILED":
                        summary[f"{member}Details"] = "simulated: could not write to the bucket"

    def listed(self, kind: str, scope: Key | Target) -> list[dict[str, Any]]:
        """Copies of the summaries of a kind in a membership or account/region, newest first."""
        with self.lock:
            found = copy.deepcopy(self.items[kind].get(scope, []))
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def _add(self, kind: str, scope: Key | Target, arn: str, summary: dict[str, Any]) -> str:
        with self.lock:
            self.items[kind].setdefault(scope, []).append(summary)
            self.by_arn[arn] = summary
        return arn

    def _list_per_membership(self, request: Request, kind: str) -> dict[str, Any]:
        membership_id = request.path["membershipIdentifier"]
        known_membership(request, membership_id)
        key = (request.account_id, request.region, membership_id)
        return paginate(_filtered(self.listed(kind, key), kind, request), request.query, kind)

    def collaboration_wide(self, kind: str, region: str, collaboration_id: str) -> list[Any]:
        """Every member's summaries of a kind in a collaboration, each with its creator."""
        with self.lock:
            found = [
                {**copy.deepcopy(summary), "creatorAccountId": scope[0]}
                for scope, summaries in self.items[kind].items()
                if len(scope) == 3 and scope[1] == region
                for summary in summaries
                if summary["collaborationIdentifier"] == collaboration_id
            ]
        return sorted(found, key=lambda s: s["createTime"], reverse=True)

    def _list_collaboration_wide(self, request: Request, operation: str) -> dict[str, Any]:
        collaboration_id = request.path["collaborationIdentifier"]
        known_collaboration(request, collaboration_id)  # the caller is a member
        kind, key = COLLABORATION_WIDE[operation]
        members = _summary_members(operation, key)
        found = [
            {k: v for k, v in s.items() if k in members}
            for s in self.collaboration_wide(kind, request.region, collaboration_id)
        ]
        return paginate(_filtered(found, kind, request), request.query, key)

    def _list_per_account(self, request: Request, kind: str) -> dict[str, Any]:
        target = (request.account_id, request.region)
        return paginate(_filtered(self.listed(kind, target), kind, request), request.query, kind)


def _summary_members(operation: str, key: str) -> frozenset[str]:
    """The members a summary of ``operation`` has in the model: the rest is dropped."""
    output = service_model("cleanroomsml").operation_model(operation).output_shape
    return frozenset(output.members[key].member.members)


def _times(created: float, updated: float | None) -> dict[str, float]:
    """createTime and updateTime; a resource never updated was last updated when created."""
    return {"createTime": created, "updateTime": created if updated is None else updated}


def _filtered(summaries: list[dict[str, Any]], kind: str, request: Request) -> list[dict[str, Any]]:
    """The summaries that match every filter of the kind's operation the request sets."""
    wanted = {name: request.query[name] for name in _FILTERS.get(kind, ()) if name in request.query}
    return [s for s in summaries if all(s.get(k) == v for k, v in wanted.items())]

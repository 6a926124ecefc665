"""The fake's Clean Rooms ML and intermediate tables: on the model, paged, newest first, refusing.

Every call goes through real botocore clients, signed with keys moto issued for a fresh
account (an assumed role), so the fake tells the account, region and service apart as it
would for the exporter.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from exporter.demo.fake.ml_store import Key, MlStore, Target, ml_arn
from exporter.demo.fake.service import FakeCleanRooms, operation_for
from tests.helpers import Seeder
from tests.unit.demo.conftest import REGION, Caller, every_page

BASE = 1_700_000_000  # createTime of the oldest seeded resource
COUNT = 250  # three pages at maxResults=100
UNKNOWN_MEMBERSHIP = "1" * 8 + "-1111-4111-8111-" + "1" * 12


def shuffled_times() -> list[int]:
    """COUNT createTimes, one second apart, in an order unlike the newest-first answer."""
    times = [BASE + index for index in range(COUNT)]
    random.Random(7).shuffle(times)
    return times


def seconds(summary: dict[str, Any], member: str) -> float:
    value: float = summary[member].timestamp()
    return value


# Per membership: (client method, list key, ARN member, seeding method of MlStore).
PER_MEMBERSHIP = [
    ("list_trained_models", "trainedModels", "trainedModelArn", MlStore.add_trained_model),
    (
        "list_trained_model_inference_jobs",
        "trainedModelInferenceJobs",
        "trainedModelInferenceJobArn",
        MlStore.add_inference_job,
    ),
    (
        "list_ml_input_channels",
        "mlInputChannelsList",
        "mlInputChannelArn",
        MlStore.add_input_channel,
    ),
]


@pytest.mark.parametrize(("method", "key", "arn_member", "add"), PER_MEMBERSHIP)
def test_membership_lists_answer_what_was_seeded_newest_first_in_pages(
    fake: FakeCleanRooms,
    seeder: Seeder,
    caller: Caller,
    ml: Any,
    method: str,
    key: str,
    arn_member: str,
    add: Callable[..., str],
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    membership: Key = (caller.account, REGION, collaboration.membership_id)
    seeded = {
        add(fake.ml, membership, collaboration.id, f"r{t}", "ACTIVE", t, t + 5): t
        for t in shuffled_times()
    }
    pages = every_page(getattr(ml, method), key, membershipIdentifier=membership[2])
    assert [len(page) for page in pages] == [100, 100, 50]
    listed = [summary for page in pages for summary in page]
    assert [seconds(s, "createTime") for s in listed] == sorted(seeded.values(), reverse=True)
    assert {s[arn_member]: seconds(s, "createTime") for s in listed} == seeded
    newest = listed[0]
    assert newest["name"] == f"r{BASE + COUNT - 1}"
    assert seconds(newest, "updateTime") == BASE + COUNT - 1 + 5
    assert newest["status"] == "ACTIVE"
    assert newest["membershipIdentifier"] == membership[2]
    assert newest["collaborationIdentifier"] == collaboration.id
    with pytest.raises(ClientError) as caught:
        getattr(ml, method)(membershipIdentifier=UNKNOWN_MEMBERSHIP)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def _add_audience_model(fake: FakeCleanRooms, target: Target, created: int) -> str:
    return fake.ml.add_audience_model(target, f"m{created}", "ACTIVE", created)


def _add_configured(fake: FakeCleanRooms, target: Target, created: int) -> str:
    model = ml_arn(target, "audience-model")
    return fake.ml.add_configured_audience_model(target, f"c{created}", model, created)


def _add_generation_job(fake: FakeCleanRooms, target: Target, created: int) -> str:
    configured = ml_arn(target, "configured-audience-model")
    return fake.ml.add_audience_generation_job(target, f"g{created}", configured, "ACTIVE", created)


# Per account and region: (client method, list key, ARN member, seeding of one resource).
PER_ACCOUNT = [
    ("list_audience_models", "audienceModels", "audienceModelArn", _add_audience_model),
    (
        "list_configured_audience_models",
        "configuredAudienceModels",
        "configuredAudienceModelArn",
        _add_configured,
    ),
    (
        "list_audience_generation_jobs",
        "audienceGenerationJobs",
        "audienceGenerationJobArn",
        _add_generation_job,
    ),
]


@pytest.mark.parametrize(("method", "key", "arn_member", "add"), PER_ACCOUNT)
def test_account_lists_answer_what_was_seeded_newest_first_in_pages(
    fake: FakeCleanRooms,
    caller: Caller,
    ml: Any,
    method: str,
    key: str,
    arn_member: str,
    add: Callable[[FakeCleanRooms, Target, int], str],
) -> None:
    target = (caller.account, REGION)
    seeded = {add(fake, target, t): t for t in shuffled_times()}
    pages = every_page(getattr(ml, method), key)
    assert [len(page) for page in pages] == [100, 100, 50]
    listed = [summary for page in pages for summary in page]
    assert [seconds(s, "createTime") for s in listed] == sorted(seeded.values(), reverse=True)
    assert {s[arn_member]: seconds(s, "updateTime") for s in listed} == seeded
    assert {s["status"] for s in listed} == {"ACTIVE"}
    # Another region of the same account has none of them.
    elsewhere = caller.client("cleanroomsml", fake.url, "eu-west-1")
    assert getattr(elsewhere, method)()[key] == []
    elsewhere.close()


def test_inference_and_generation_jobs_filter_like_the_api(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    membership: Key = (caller.account, REGION, collaboration.membership_id)
    model = fake.ml.add_trained_model(membership, collaboration.id, "model", "ACTIVE", BASE)
    mine = fake.ml.add_inference_job(
        membership, collaboration.id, "mine", "ACTIVE", BASE, trained_model_arn=model
    )
    fake.ml.add_inference_job(membership, collaboration.id, "other", "ACTIVE", BASE)
    jobs = ml.list_trained_model_inference_jobs(
        membershipIdentifier=membership[2], trainedModelArn=model
    )["trainedModelInferenceJobs"]
    assert [j["trainedModelInferenceJobArn"] for j in jobs] == [mine]
    target = (caller.account, REGION)
    configured = ml_arn(target, "configured-audience-model")
    ours = fake.ml.add_audience_generation_job(
        target, "ours", configured, "ACTIVE", BASE, collaboration_id=collaboration.id
    )
    fake.ml.add_audience_generation_job(target, "theirs", configured, "ACTIVE", BASE)
    by_collaboration = ml.list_audience_generation_jobs(collaborationId=collaboration.id)
    assert [j["audienceGenerationJobArn"] for j in by_collaboration["audienceGenerationJobs"]] == [
        ours
    ]
    by_model = ml.list_audience_generation_jobs(configuredAudienceModelArn=configured)
    assert len(by_model["audienceGenerationJobs"]) == 2


def test_set_status_changes_what_is_listed(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    membership: Key = (caller.account, REGION, collaboration.membership_id)
    model = fake.ml.add_trained_model(
        membership, collaboration.id, "model", "CREATE_IN_PROGRESS", BASE
    )
    audience = fake.ml.add_audience_model(
        (caller.account, REGION), "audience", "CREATE_PENDING", BASE
    )
    fake.ml.set_status(model, "ACTIVE", BASE + 60)
    fake.ml.set_status(audience, "CREATE_FAILED")  # no time given: updateTime stays
    (listed_model,) = ml.list_trained_models(membershipIdentifier=membership[2])["trainedModels"]
    assert listed_model["status"] == "ACTIVE"
    assert seconds(listed_model, "updateTime") == BASE + 60
    (listed_audience,) = ml.list_audience_models()["audienceModels"]
    assert listed_audience["status"] == "CREATE_FAILED"
    assert seconds(listed_audience, "updateTime") == BASE
    with pytest.raises(KeyError):
        fake.ml.set_status(ml_arn((caller.account, REGION), "audience-model"), "ACTIVE")


def test_intermediate_tables_come_newest_first_in_pages_and_follow_their_status(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, cleanrooms: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    membership: Key = (caller.account, REGION, collaboration.membership_id)
    seeded = {
        fake.tables.add_table(membership, collaboration.id, f"t{t}", "CREATED", t): t
        for t in shuffled_times()
    }
    kept = fake.tables.add_table(
        membership, collaboration.id, "kept", "POPULATE_STARTED", BASE + COUNT, retention_days=30
    )
    fake.tables.set_status(membership, kept, "POPULATE_SUCCESS", BASE + COUNT + 60)
    pages = every_page(
        cleanrooms.list_intermediate_tables,
        "intermediateTableSummaries",
        membershipIdentifier=membership[2],
    )
    assert [len(page) for page in pages] == [100, 100, 51]
    listed = [summary for page in pages for summary in page]
    newest = listed[0]
    assert (newest["id"], newest["status"], newest["retentionInDays"]) == (
        kept,
        "POPULATE_SUCCESS",
        30,
    )
    assert seconds(newest, "updateTime") == BASE + COUNT + 60
    assert newest["arn"].endswith(f"membership/{membership[2]}/intermediatetable/{kept}")
    assert newest["collaborationId"] == collaboration.id
    assert {s["id"]: seconds(s, "createTime") for s in listed[1:]} == seeded
    assert "retentionInDays" not in listed[1]
    with pytest.raises(ClientError) as caught:
        cleanrooms.list_intermediate_tables(membershipIdentifier=UNKNOWN_MEMBERSHIP)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(KeyError):
        fake.tables.set_status(membership, UNKNOWN_MEMBERSHIP, "CREATED")
    # What the fake does not implement still comes from moto, for the same account.
    memberships = cleanrooms.list_memberships()["membershipSummaries"]
    assert [m["id"] for m in memberships] == [membership[2]]


def test_an_unimplemented_ml_operation_is_refused(ml: Any) -> None:
    with pytest.raises(ClientError) as caught:
        ml.list_training_datasets()
    assert caught.value.response["Error"]["Code"] == "UnknownOperationException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_ml_operations_are_routed_from_their_own_service_model() -> None:
    path = "/memberships/abc/trained-models?maxResults=5"
    assert operation_for("GET", path, "cleanroomsml") == (
        "ListTrainedModels",
        {"membershipIdentifier": "abc"},
    )
    assert operation_for("GET", path) is None  # not a Clean Rooms path
    assert operation_for("GET", "/audience-model", "cleanroomsml") == ("ListAudienceModels", {})


def test_an_ml_answer_off_the_model_is_never_sent(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    membership: Key = (caller.account, REGION, collaboration.membership_id)
    # RUNNING is no TrainedModelStatus: the model's enum must catch it.
    fake.ml.add_trained_model(membership, collaboration.id, "model", "RUNNING", BASE)
    with pytest.raises(ClientError) as caught:
        ml.list_trained_models(membershipIdentifier=membership[2])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert any("'RUNNING' is not one of" in v for v in fake.violations), fake.violations
    fake.violations.clear()  # seen and asserted: the fixture's own check must not fail


def test_timestamps_go_out_in_each_models_format(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller
) -> None:
    import json
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from exporter.demo.fake.validate import validate_output

    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    key = (caller.account, REGION, collaboration.membership_id)
    fake.ml.add_trained_model(key, collaboration.id, "model", "ACTIVE", BASE, BASE + 1.5)

    def raw(signing: str, path: str) -> dict[str, Any]:
        request = AWSRequest("GET", f"{fake.url}{path}")
        credentials = caller.session.get_credentials()
        SigV4Auth(credentials, signing, REGION).add_auth(request)
        sent = urllib.request.Request(request.url, headers=dict(request.headers.items()))
        with urllib.request.urlopen(sent, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    body = raw("cleanrooms-ml", f"/memberships/{key[2]}/trained-models")
    (model,) = body["trainedModels"]
    assert model["createTime"] == "2023-11-14T22:13:20.000Z"  # as AWS sends Clean Rooms ML's
    assert model["updateTime"] == "2023-11-14T22:13:21.500Z"
    # The validator holds each service to its model's format.
    epoch = {**model, "createTime": BASE}
    problems = validate_output("ListTrainedModels", {"trainedModels": [epoch]}, "cleanroomsml")
    assert problems == [
        f"ListTrainedModels.trainedModels[0].createTime: expected an ISO 8601 time, got {BASE}"
    ]
    iso = {"collaborationList": [], "nextToken": None}
    assert validate_output("ListCollaborations", iso) == []
    wrong = {"collaborationList": [{"createTime": "2023-11-14T22:13:20.000Z"}]}
    assert any(
        "createTime: expected epoch seconds" in p
        for p in validate_output("ListCollaborations", wrong)
    )

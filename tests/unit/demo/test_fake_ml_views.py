"""The fake's collaboration-wide ML listings, export jobs and analysis log exports.

Every call goes through real botocore clients signed for a fresh account, so the fake
tells the caller apart, and every answer is checked against botocore's model on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from exporter.demo.fake.ml_store import ml_arn
from exporter.demo.fake.service import FakeCleanRooms
from tests.helpers import Seeder
from tests.unit.demo.conftest import REGION, Caller, every_page

BASE = 1_700_000_000
PARTNER = "444444444444"
PARTNER_MEMBERSHIP = "22222222-2222-4222-8222-222222222222"
UNKNOWN = "1" * 8 + "-1111-4111-8111-" + "1" * 12


def test_collaboration_lists_hold_every_members_work_with_its_creator_and_payer(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    ours = (caller.account, REGION, collaboration.membership_id)
    theirs = (PARTNER, REGION, PARTNER_MEMBERSHIP)
    for number in range(150):  # two pages of the partner's, paid by this account
        fake.ml.add_trained_model(
            theirs, collaboration.id, f"p{number}", "ACTIVE", BASE + number, payer=caller.account
        )
    own = fake.ml.add_trained_model(ours, collaboration.id, "own", "CREATE_FAILED", BASE + 500)
    elsewhere = seeder.add(caller.account, REGION, "ACTIVE")  # not listed with the first
    fake.ml.add_trained_model(theirs, elsewhere.id, "other", "ACTIVE", BASE)
    pages = every_page(
        ml.list_collaboration_trained_models,
        "collaborationTrainedModels",
        collaborationIdentifier=collaboration.id,
    )
    assert [len(page) for page in pages] == [100, 51]
    listed = [summary for page in pages for summary in page]
    assert (listed[0]["trainedModelArn"], listed[0]["creatorAccountId"]) == (own, caller.account)
    assert {s["creatorAccountId"] for s in listed[1:]} == {PARTNER}
    assert {s["mlModelTrainingPayerAccountId"] for s in listed} == {caller.account}
    assert {s["membershipIdentifier"] for s in listed[1:]} == {PARTNER_MEMBERSHIP}
    with pytest.raises(ClientError) as caught:
        ml.list_collaboration_trained_models(collaborationIdentifier=UNKNOWN)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_inference_jobs_and_input_channels_name_their_payer(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    theirs = (PARTNER, REGION, PARTNER_MEMBERSHIP)
    fake.ml.add_inference_job(
        theirs, collaboration.id, "scores", "CREATE_FAILED", BASE, payer=caller.account
    )
    fake.ml.add_input_channel(theirs, collaboration.id, "clicks", "ACTIVE", BASE, payer=PARTNER)
    (job,) = ml.list_collaboration_trained_model_inference_jobs(
        collaborationIdentifier=collaboration.id
    )["collaborationTrainedModelInferenceJobs"]
    assert (job["creatorAccountId"], job["mlModelInferencePayerAccountId"]) == (
        PARTNER,
        caller.account,
    )
    (channel,) = ml.list_collaboration_ml_input_channels(collaborationIdentifier=collaboration.id)[
        "collaborationMLInputChannelsList"
    ]
    assert channel["payerConfiguration"] == {"computePayerAccountId": PARTNER}
    assert "protectedQueryIdentifier" not in channel  # not a member of the collaboration view


def test_export_jobs_page_and_say_why_they_failed(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any
) -> None:
    target = (caller.account, REGION)
    generation = "arn:aws:cleanrooms-ml:us-east-1:111111111111:audience-generation-job/g"
    handles = [
        fake.ml_exports.add_audience_export(target, generation, f"e{n}", "ACTIVE", BASE + n)
        for n in range(120)
    ]
    fake.ml_exports.set_status(handles[0], "CREATE_FAILED", BASE + 999, reason="AccessDenied")
    pages = every_page(ml.list_audience_export_jobs, "audienceExportJobs")
    assert [len(page) for page in pages] == [100, 20]
    oldest = pages[-1][-1]
    assert (oldest["name"], oldest["status"]) == ("e0", "CREATE_FAILED")
    assert oldest["statusDetails"]["statusCode"] == "AccessDenied"
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    model = ml_arn((PARTNER, REGION), f"membership/{PARTNER_MEMBERSHIP}/trained-model")
    fake.ml_exports.add_model_export(
        (REGION, collaboration.id, model),
        (PARTNER, PARTNER_MEMBERSHIP),
        (caller.account,),
        "to-us",
        "CREATE_FAILED",
        BASE,
        reason="KmsKeyDisabled",
    )
    (job,) = ml.list_collaboration_trained_model_export_jobs(
        collaborationIdentifier=collaboration.id, trainedModelArn=model
    )["collaborationTrainedModelExportJobs"]
    assert job["outputConfiguration"]["members"] == [{"accountId": caller.account}]
    assert (job["creatorAccountId"], job["statusDetails"]["statusCode"]) == (
        PARTNER,
        "KmsKeyDisabled",
    )
    other = ml.list_collaboration_trained_model_export_jobs(
        collaborationIdentifier=collaboration.id, trainedModelArn=model + "x"
    )
    assert other["collaborationTrainedModelExportJobs"] == []


def test_log_exports_list_newest_first_and_a_get_tells_the_error(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, cleanrooms: Any
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    key = (caller.account, REGION, collaboration.membership_id)
    ids = [fake.log_exports.add(key, BASE + n, "SUCCESS") for n in range(130)]
    fake.log_exports.set_status(key, ids[-1], "FAILED", BASE + 999, error="AccessDenied")
    listing: Callable[..., Any] = cleanrooms.list_analysis_log_exports
    pages = every_page(listing, "analysisLogExports", membershipIdentifier=key[2])
    assert [len(page) for page in pages] == [100, 30]
    newest = pages[0][0]
    assert (newest["analysisLogExportId"], newest["status"]) == (ids[-1], "FAILED")
    assert newest["createTime"].timestamp() == BASE + 129
    failed = listing(membershipIdentifier=key[2], status="FAILED")["analysisLogExports"]
    assert [e["analysisLogExportId"] for e in failed] == [ids[-1]]
    got = cleanrooms.get_analysis_log_export(
        membershipIdentifier=key[2], analysisLogExportIdentifier=ids[-1]
    )["analysisLogExport"]
    assert got["error"]["code"] == "AccessDenied"
    assert got["updateTime"].timestamp() == BASE + 999
    assert fake.log_exports.gets[ids[-1]] == 1
    with pytest.raises(ClientError) as caught:
        cleanrooms.get_analysis_log_export(
            membershipIdentifier=key[2], analysisLogExportIdentifier=UNKNOWN
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_shared_collaboration_answers_both_members_the_same(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller, ml: Any, new_account: Callable[[], str]
) -> None:
    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    other = new_account()
    joined = seeder.share(collaboration, other, REGION)
    assert joined.id == collaboration.id
    assert joined.membership_id != collaboration.membership_id
    theirs = (PARTNER, REGION, PARTNER_MEMBERSHIP)
    fake.ml.add_trained_model(theirs, collaboration.id, "m", "ACTIVE", BASE, payer=other)
    listed = ml.list_collaboration_trained_models(collaborationIdentifier=collaboration.id)
    assert [m["mlModelTrainingPayerAccountId"] for m in listed["collaborationTrainedModels"]] == [
        other
    ]


def test_each_answer_carries_its_models_timestamp_format(
    fake: FakeCleanRooms, seeder: Seeder, caller: Caller
) -> None:
    import json
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    collaboration = seeder.add(caller.account, REGION, "ACTIVE")
    key = (caller.account, REGION, collaboration.membership_id)
    fake.ml.add_trained_model(
        (PARTNER, REGION, PARTNER_MEMBERSHIP), collaboration.id, "m", "ACTIVE", BASE
    )
    fake.log_exports.add(key, BASE)

    def raw(signing: str, path: str) -> dict[str, Any]:
        request = AWSRequest("GET", f"{fake.url}{path}")
        SigV4Auth(caller.session.get_credentials(), signing, REGION).add_auth(request)
        sent = urllib.request.Request(request.url, headers=dict(request.headers.items()))
        with urllib.request.urlopen(sent, timeout=10) as answer:
            return dict(json.loads(answer.read()))

    ml = raw("cleanrooms-ml", f"/collaborations/{collaboration.id}/trained-models")
    (model,) = ml["collaborationTrainedModels"]
    assert model["createTime"] == "2023-11-14T22:13:20.000Z"  # Clean Rooms ML: ISO 8601
    logs = raw("cleanrooms", f"/memberships/{key[2]}/analysislogexports")
    (export,) = logs["analysisLogExports"]
    assert export["createTime"] == BASE  # Clean Rooms: epoch seconds

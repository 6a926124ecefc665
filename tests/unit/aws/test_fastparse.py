"""The compiled parser returns exactly what botocore's own parser returns.

Bodies are generated from each operation's output shape in botocore's model: every
member type, nested lists, maps and unions, plus the odd cases (missing members, empty
lists, huge pages, unknown members, nulls, unparseable timestamps, wrong types).
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.parsers import RestJSONParser

from exporter.aws.clients import lenient_timestamp
from exporter.aws.fastparse import FastParserFactory, FastRestJSONParser, Unusual, _structure
from exporter.collectors import REGISTRY

MODEL = botocore.session.get_session().get_service_model("cleanrooms")
MODELS = {
    service: botocore.session.get_session().get_service_model(service)
    for service in {spec.polling.service for spec in REGISTRY}
}
# The collectors' rest-json operations (Clean Rooms and Clean Rooms ML), whatever
# collectors exist: the compiled parser serves those; botocore parses the others (the
# JSON protocol of Service Quotas).
CALLED = sorted(
    {
        f"{spec.polling.service}:{op}"
        for spec in REGISTRY
        for op in spec.polling.operations
        if MODELS[spec.polling.service].protocol == "rest-json"
    }
)


def shape_of(called: str) -> Any:
    """The output shape of ``service:operation``."""
    service, operation = called.split(":")
    return MODELS[service].operation_model(operation).output_shape


EVERY_OUTPUT = sorted(
    op for op in MODEL.operation_names if MODEL.operation_model(op).output_shape is not None
)


class Bodies:
    """Random JSON bodies that follow (or, with ``odd``, bend) an output shape."""

    def __init__(self, seed: int, odd: bool = False, page: int = 5) -> None:
        self.rng = random.Random(seed)
        self.odd = odd
        self.page = page

    def value(self, shape: Any, depth: int = 0) -> Any:
        rng = self.rng
        if self.odd and depth and rng.random() < 0.05:
            return None  # a null where a value should be
        kind = shape.type_name
        if kind == "structure" and not shape.is_document_type:
            return self.structure(shape, depth)
        if kind == "list":
            size = rng.choice([0, 1, 2, self.page]) if depth < 4 else 0
            return [self.value(shape.member, depth + 1) for _ in range(size)]
        if kind == "map":
            size = rng.choice([0, 1, 3]) if depth < 4 else 0
            return {self.word(): self.value(shape.value, depth + 1) for _ in range(size)}
        return self.scalar(shape)

    def structure(self, shape: Any, depth: int) -> dict[str, Any]:
        rng = self.rng
        names = list(shape.members)
        if shape.is_tagged_union:
            names = [rng.choice(names)]
        elif depth:
            names = [n for n in names if n in shape.required_members or rng.random() < 0.8]
        body = {
            shape.members[n].serialization.get("name", n): self.value(shape.members[n], depth + 1)
            for n in names
        }
        if self.odd and rng.random() < 0.3 and not shape.is_tagged_union:
            body["someMemberAddedLater"] = {"nested": [1, 2]}  # botocore drops it
        return body

    def scalar(self, shape: Any) -> Any:
        rng = self.rng
        kind = shape.type_name
        if kind == "timestamp":
            choices: list[Callable[[], Any]] = [
                lambda: rng.uniform(1.5e9, 1.8e9),
                lambda: rng.randint(1_500_000_000, 1_800_000_000),
                lambda: "2024-05-01T12:30:00.123Z",
            ]
            if self.odd:
                choices += [lambda: "not a time", lambda: 1e20, lambda: "", lambda: True]
            return rng.choice(choices)()
        if kind in ("integer", "long"):
            return rng.randint(0, 10**6)
        if kind in ("float", "double"):
            return rng.choice([rng.random() * 100, 7])
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "structure":  # a document
            return {"free": ["form", 1, None]}
        if shape.enum:
            return rng.choice([*shape.enum, "A_STATUS_ADDED_LATER"] if self.odd else shape.enum)
        return self.word()

    def word(self) -> str:
        return "".join(self.rng.choices(string.ascii_letters + "é-_:/", k=self.rng.randint(1, 12)))


def response(body: Any, status: int = 200, raw: bytes | None = None) -> dict[str, Any]:
    return {
        "status_code": status,
        "headers": {
            "X-Amzn-RequestId": "7f4e1a2b-request",
            "Content-Type": "application/json",
            "Date": "Tue, 01 Dec 2026 21:00:00 GMT",
        },
        "body": raw if raw is not None else json.dumps(body).encode(),
        "context": {"operation_name": "ListCollaborations"},
    }


def botocore_parse(resp: dict[str, Any], shape: Any) -> tuple[str, Any]:
    return outcome(lambda: RestJSONParser(timestamp_parser=lenient_timestamp).parse(resp, shape))


def fast_parse(resp: dict[str, Any], shape: Any) -> tuple[str, Any]:
    return outcome(lambda: FAST.parse(resp, shape))


def outcome(parse: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", parse()
    except Exception as err:
        return "raised", (type(err), str(err))


FAST = FastRestJSONParser(timestamp_parser=lenient_timestamp)


def assert_same(resp: dict[str, Any], shape: Any) -> Any:
    expected = botocore_parse(resp, shape)
    got = fast_parse(resp, shape)
    assert got == expected
    if expected[0] == "ok":
        assert list(got[1]) == list(expected[1])  # the same member order too
        assert got[1]["ResponseMetadata"] == expected[1]["ResponseMetadata"]
    return got[1]


def plan_for(operation: str) -> Callable[[Any], Any]:
    plan = FAST._plans.for_output(shape_of(operation))
    assert plan is not None, f"{operation} has no compiled plan"
    return plan


@pytest.mark.parametrize("operation", CALLED)
def test_called_operations_have_a_plan_and_match_botocore(operation: str) -> None:
    shape = shape_of(operation)
    plan = plan_for(operation)
    for seed in range(40):
        body = Bodies(seed).value(shape)
        parsed = assert_same(response(body), shape)
        # The compiled path itself produced it, not the fall-back to botocore.
        assert {"ResponseMetadata": parsed["ResponseMetadata"], **plan(body)} == parsed


@pytest.mark.parametrize("operation", CALLED)
def test_odd_bodies_match_botocore(operation: str) -> None:
    shape = shape_of(operation)
    for seed in range(150):
        assert_same(response(Bodies(seed, odd=True).value(shape)), shape)


LISTED = [c for c in CALLED if any(m.type_name == "list" for m in shape_of(c).members.values())]


@pytest.mark.parametrize("operation", LISTED)
def test_huge_and_empty_pages(operation: str) -> None:
    shape = shape_of(operation)
    list_member = next(n for n, m in shape.members.items() if m.type_name == "list")
    huge = Bodies(1, page=1000).value(shape)
    huge[list_member] = [Bodies(i).value(shape.members[list_member].member) for i in range(1000)]
    assert len(assert_same(response(huge), shape)[list_member]) == 1000
    assert assert_same(response({list_member: []}), shape)[list_member] == []
    assert list_member not in assert_same(response({}), shape)  # missing: absent, as botocore


@pytest.mark.parametrize("operation", EVERY_OUTPUT)
def test_every_cleanrooms_output_matches_botocore(operation: str) -> None:
    shape = MODEL.operation_model(operation).output_shape
    for seed in range(8):
        assert_same(response(Bodies(seed).value(shape)), shape)
        assert_same(response(Bodies(seed, odd=True).value(shape)), shape)


def test_timestamps_follow_the_model_and_bad_ones_come_back_raw() -> None:
    shape = MODEL.operation_model("ListCollaborations").output_shape
    body = {
        "collaborationList": [
            {"id": "c1", "createTime": 1700000000.5, "updateTime": "2024-05-01T12:30:00Z"},
            {"id": "c2", "createTime": "yesterday", "updateTime": 1e20, "name": "1700000000"},
            # Strings out of every time zone's range: botocore's parser raises RuntimeError.
            {"id": "c3", "createTime": "1e20", "updateTime": "-inf"},
        ]
    }
    first, second, third = assert_same(response(body), shape)["collaborationList"]
    assert (third["createTime"], third["updateTime"]) == ("1e20", "-inf")
    assert first["createTime"] == datetime.fromtimestamp(1700000000.5, UTC)
    assert first["updateTime"] == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert (second["createTime"], second["updateTime"]) == ("yesterday", 1e20)
    assert second["name"] == "1700000000"  # a string member is never read as a time


def test_nested_maps_lists_and_unions_of_change_requests() -> None:
    shape = MODEL.operation_model("ListCollaborationChangeRequests").output_shape
    summary = {
        "id": "r1",
        "collaborationId": "c1",
        "createTime": 1700000000,
        "updateTime": 1700000100,
        "status": "PENDING",
        "isAutoApproved": False,
        "changes": [
            {
                "specificationType": "MEMBER",
                "types": ["ADD_MEMBER"],
                "specification": {
                    "member": {"accountId": "111122223333", "memberAbilities": [], "x": 1}
                },
            },
        ],
        "approvals": {"111122223333": {"status": "APPROVED"}, "444455556666": None},
    }
    parsed = assert_same(response({"collaborationChangeRequestSummaries": [summary]}), shape)
    got = parsed["collaborationChangeRequestSummaries"][0]
    assert got["approvals"] == {"111122223333": {"status": "APPROVED"}, "444455556666": None}
    assert got["changes"][0]["specification"] == {
        "member": {"accountId": "111122223333", "memberAbilities": []}
    }
    assert got["createTime"] == datetime.fromtimestamp(1700000000, UTC)


def test_union_with_unknown_or_several_members_goes_to_botocore() -> None:
    shape = MODEL.operation_model("ListPrivacyBudgets").output_shape
    summary = Bodies(3).value(shape.members["privacyBudgetSummaries"].member)
    for budget in ({"budgetAddedLater": {"x": 1}}, {"differentialPrivacy": None}, {}):
        body = {"privacyBudgetSummaries": [{**summary, "budget": budget}]}
        with pytest.raises(Unusual):
            plan_for("cleanrooms:ListPrivacyBudgets")(body)
        assert_same(response(body), shape)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"null",
        b"[1, 2]",
        b'{"collaborationList": "abc"}',
        b'{"collaborationList": {"a": 1}}',
        b'{"collaborationList": [1, null, "x"]}',
        b'\xff\xfe{"x": 1}',
    ],
)
def test_bodies_that_do_not_fit_go_to_botocore(raw: bytes) -> None:
    shape = MODEL.operation_model("ListCollaborations").output_shape
    assert_same(response(None, raw=raw), shape)


def test_wrong_scalar_types_match_botocore() -> None:
    shape = MODEL.operation_model("ListPrivacyBudgets").output_shape
    body = Bodies(5).value(shape)
    summary = Bodies(6).value(shape.members["privacyBudgetSummaries"].member)
    summary["budget"] = {
        "differentialPrivacy": {
            "aggregations": [{"type": "COUNT", "maxCount": "12", "remainingCount": "many"}],
            "epsilon": 1,
        }
    }
    body["privacyBudgetSummaries"] = [summary]
    assert botocore_parse(response(body), shape)[0] == "raised"  # int("many")
    assert_same(response(body), shape)


@pytest.mark.parametrize("status", [300, 400, 404, 429, 500, 503])
def test_errors_are_botocore_s(status: int) -> None:
    shape = MODEL.operation_model("ListCollaborations").output_shape
    body = {"message": "Rate exceeded", "__type": "ThrottlingException", "collaborationList": []}
    for resp in (response(body, status), response(None, status, raw=b"<html>busy</html>")):
        resp["headers"]["x-amzn-ErrorType"] = "ThrottlingException:http://internal"
        parsed = assert_same(resp, shape)
        if status >= 301:
            assert "Error" in parsed


def test_response_metadata_is_botocore_s_with_checksum_and_s3_style_ids() -> None:
    shape = MODEL.operation_model("ListMemberships").output_shape
    resp = response({"membershipSummaries": []})
    resp["headers"] = {"x-amz-request-id": "r", "x-amz-id-2": "h", "Content-Length": "27"}
    resp["context"]["checksum"] = {"response_algorithm": "crc32"}
    metadata = assert_same(resp, shape)["ResponseMetadata"]
    assert metadata["ChecksumAlgorithm"] == "crc32"
    assert metadata["HTTPHeaders"]["content-length"] == "27"


def test_the_factory_shares_one_compiled_parser_for_rest_json_only() -> None:
    factory = FastParserFactory()
    factory.set_parser_defaults(timestamp_parser=lenient_timestamp)
    parser = factory.create_parser("rest-json")
    assert isinstance(parser, FastRestJSONParser)
    assert factory.create_parser("rest-json") is parser
    assert type(factory.create_parser("query")).__name__ == "QueryParser"
    assert parser.parse(
        response({"collaborationList": [{"createTime": "bad"}]}),
        MODEL.operation_model("ListCollaborations").output_shape,
    )["collaborationList"] == [{"createTime": "bad"}]  # the configured lenient parser


def test_a_structure_converter_keeps_any_member_name_exactly() -> None:
    # Names become string literals of the converter's source: quotes, escapes and
    # line breaks must come out as they went in.
    odd = ("plain", "it's", 'say "hi"', "back\\slash", "line\nbreak", "é", "")
    members = tuple((f"{name}!", name, None) for name in odd)
    doubled = (("count", "n", lambda v: v * 2),)
    convert = _structure(members + doubled)
    wire = {name: index for index, name in enumerate(odd)} | {"n": 4, "unknown": 1}
    assert convert(wire) == {f"{name}!": index for index, name in enumerate(odd)} | {"count": 8}
    assert list(convert(wire)) == [f"{name}!" for name in odd] + ["count"]
    assert convert({"it's": None}) == {}
    assert convert(None) is None
    with pytest.raises(Unusual):
        convert(["not", "a", "structure"])

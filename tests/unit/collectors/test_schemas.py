"""The schemas collector: one status per schema, its reasons, the Gets in 25s, its families."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.collectors import schema_status, schemas
from exporter.collectors.base import PollContext, TargetData
from exporter.collectors.collaborations import PollData
from exporter.collectors.schema_status import NOT_READY, READY, UNKNOWN, Status, parse
from exporter.core.model import UNUSABLE
from exporter.core.series import OutputSettings
from exporter.metrics.declared import families
from tests.helpers import active_collaboration

KEY = ("111111111111", "us-east-1")
CID = "c1"


def detail(status: str, rule: str | None = "AGGREGATION", *codes: str) -> dict[str, Any]:
    found: dict[str, Any] = {"status": status, "analysisType": "DIRECT_ANALYSIS"}
    if rule is not None:
        found["analysisRuleType"] = rule
    if codes:
        found["reasons"] = [{"code": c, "message": "m"} for c in codes]
    return found


def schema(name: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "type": "TABLE", "schemaStatusDetails": list(details)}


def test_a_schema_is_not_ready_if_any_rule_type_is_and_keeps_every_reason_once() -> None:
    mixed = schema(
        "orders",
        detail(READY, "LIST"),
        detail(
            NOT_READY, "AGGREGATION", "RESULT_RECEIVERS_NOT_CONFIGURED", "ANALYSIS_RULE_MISSING"
        ),
        detail(NOT_READY, "AGGREGATION", "ANALYSIS_RULE_MISSING"),  # another analysis type
        detail(NOT_READY, None, "ANALYSIS_RULE_MISSING"),
    )
    assert parse(mixed) == Status(
        "orders",
        NOT_READY,
        (
            ("AGGREGATION", "ANALYSIS_RULE_MISSING"),
            ("AGGREGATION", "RESULT_RECEIVERS_NOT_CONFIGURED"),
            ("NONE", "ANALYSIS_RULE_MISSING"),
        ),
    )
    assert parse(schema("a", detail(READY), detail(READY, "LIST"))) == Status("a", READY)
    assert parse(schema("b")) == Status("b", UNKNOWN)  # no details at all
    assert parse(schema("c", detail(READY), detail("PARTIAL"))) == Status("c", "PARTIAL")


@pytest.mark.parametrize(
    "bad",
    [
        "not a schema",
        {"schemaStatusDetails": []},
        {"name": "x", "schemaStatusDetails": "READY"},
        schema("x", {"analysisRuleType": "LIST"}),
        schema("x", detail(NOT_READY, "LIST") | {"reasons": [{"message": "no code"}]}),
    ],
)
def test_a_malformed_schema_is_none(bad: Any) -> None:
    assert parse(bad) is None


def test_every_reason_code_of_the_model_has_words() -> None:
    from exporter.demo.fake.validate import service_model

    codes = service_model().shape_for("SchemaStatusReasonCode").enum
    assert sorted(schema_status.REASON_WORDS) == sorted(codes)
    assert len(codes) == 17
    assert schema_status.in_words("NEW_CODE_LATER") == "new code later"


class Client:
    """ListSchemas from ``listed`` (one page), BatchGetSchema from ``schemas`` and ``errors``."""

    def __init__(self, listed: list[dict[str, Any]], errors: dict[str, str]) -> None:
        self.listed = listed
        self.errors = errors
        self.gets: list[list[str]] = []

    def call(self, operation: str, **params: Any) -> Any:
        assert params["collaborationIdentifier"] == CID
        if operation == "ListSchemas":
            return {
                "schemaSummaries": [{"name": s["name"], "type": s["type"]} for s in self.listed]
            }
        assert operation == "BatchGetSchema"
        self.gets.append(params["names"])
        by_name = {s["name"]: s for s in self.listed}
        return {
            "schemas": [by_name[n] for n in params["names"] if n not in self.errors],
            "errors": [
                {"name": n, "code": self.errors[n], "message": "m"}
                for n in params["names"]
                if n in self.errors
            ],
        }


PARENT = PollData((active_collaboration(CID, "m1"),), {}, None)


def poll(client: Client, now: float, previous: Any = None) -> schemas.SchemasData:
    return schemas.poll(PollContext(client, PARENT, None, 1000, now, previous))


def test_sixty_names_take_three_gets_and_errors_are_counted_by_code() -> None:
    listed = [schema(f"t{i:02d}", detail(READY)) for i in range(58)]
    listed += [schema("bad", {"no": "status"}), schema("late", detail(NOT_READY, "LIST", "X"))]
    client = Client(listed, {"t00": "InternalServerException", "t01": "InternalServerException"})
    data = poll(client, 1000.0)
    assert [len(names) for names in client.gets] == [25, 25, 10]
    found = data.per_collaboration[CID]
    assert found.errors == {"InternalServerException": 2}
    assert data.invalid_items == 1  # the malformed one; the errors are not malformed
    assert dict(found.tally.counts) == {NOT_READY: 1, READY: 56}
    assert dict(found.by_type) == {"ID_MAPPING_TABLE": 0, "INTERMEDIATE_TABLE": 0, "TABLE": 60}


def test_not_ready_since_it_was_first_seen_so_through_ready_and_back() -> None:
    client = Client([schema("orders", detail(READY))], {})
    first = poll(client, 1000.0)
    assert first.per_collaboration[CID].tally.oldest_in_progress is None
    client.listed = [schema("orders", detail(NOT_READY, "LIST", "ANALYSIS_RULE_MISSING"))]
    second = poll(client, 2000.0, first)
    third = poll(client, 3000.0, second)
    (still,) = third.per_collaboration[CID].not_ready
    assert still.since == 2000.0  # kept from the poll that first saw it
    assert third.per_collaboration[CID].tally.oldest_in_progress == 2000.0
    client.listed = [schema("orders", detail(READY))]
    fourth = poll(client, 4000.0, third)
    assert fourth.per_collaboration[CID].not_ready == ()
    client.listed = [schema("orders", detail(NOT_READY, "LIST", "ANALYSIS_RULE_MISSING"))]
    assert poll(client, 5000.0, fourth).per_collaboration[CID].not_ready[0].since == 5000.0


def test_families_and_the_status_page_finding() -> None:
    listed = [
        schema(
            "orders",
            detail(NOT_READY, "AGGREGATION", "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED"),
            detail(NOT_READY, "LIST", "RESULT_RECEIVERS_NOT_CONFIGURED"),
        ),
        schema("users", detail(READY)),
    ]
    data = poll(Client(listed, {"gone": "ResourceNotFoundException"}), 1000.0)
    built = families(schemas.SPEC, [TargetData(KEY, data, PARENT)], OutputSettings())
    by_name = {f.name: f.samples for f in built}
    reasons = {
        (s.labels["schema_name"], s.labels["analysis_rule_type"], s.labels["reason_code"])
        for s in by_name["cleanrooms_schema_not_ready_reason"]
    }
    assert reasons == {
        ("orders", "AGGREGATION", "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED"),
        ("orders", "LIST", "RESULT_RECEIVERS_NOT_CONFIGURED"),
    }
    statuses = {s.labels["status"]: s.value for s in by_name["cleanrooms_schemas"]}
    assert statuses == {READY: 1, NOT_READY: 1}
    (finding,) = schemas.findings(KEY, data)
    assert finding.kind == UNUSABLE
    assert finding.membership_id == "m1"
    assert finding.what == (
        "not ready: orders (the differential privacy policy is not set, "
        "no result receivers are configured)"
    )
    # A collaboration no longer ACTIVE has no series.
    gone = families(schemas.SPEC, [TargetData(KEY, data, PollData((), {}, None))], OutputSettings())
    assert all(f.samples == [] for f in gone)

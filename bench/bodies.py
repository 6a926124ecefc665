"""Real-shaped answers of any Clean Rooms (or Clean Rooms ML) list operation, from botocore.

Every member present (optional ones too), ``items`` summaries in the page, two entries
in nested lists and maps, the first member of a union, epoch-second timestamps: the
shape AWS sends, so a parser does all the work it would do on a real page.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import botocore.session

IDENTIFIER = "00000000-0000-4000-8000-000000000000"  # any 36-character id passes validation


# botocore's names of the services polled
SERVICES = ("cleanrooms", "cleanroomsml", "service-quotas")


@cache
def model(service: str = "cleanrooms") -> Any:
    return botocore.session.get_session().get_service_model(service)


@cache
def service_of(operation: str) -> str:
    """The service (botocore's name) whose model has ``operation``; the names do not clash."""
    return next(s for s in SERVICES if operation in model(s).operation_names)


def _operation(operation: str) -> Any:
    return model(service_of(operation)).operation_model(operation)


def list_member(operation: str) -> str:
    """The name of the page's list of summaries (``collaborationList``, ``memberSummaries``)."""
    shape = _operation(operation).output_shape
    return next(name for name, member in shape.members.items() if member.type_name == "list")


def request_params(operation: str) -> dict[str, Any]:
    """The fixed parameters the exporter sends: required identifiers and a full page."""
    shape = _operation(operation).input_shape
    params: dict[str, Any] = {
        name: (shape.members[name].enum or [IDENTIFIER])[0] for name in shape.required_members
    }
    for size in ("maxResults", "MaxResults"):  # Service Quotas capitalises its members
        if size in shape.members:
            params[size] = 100
    if "names" in shape.members:  # BatchGetSchema: the names of a ListSchemas page
        params["names"] = batch_names(25)
    return params


def batch_names(count: int) -> list[str]:
    """The table names ``page("ListSchemas", count)`` lists: what the next call gets."""
    summaries = json.loads(page("ListSchemas", count))["schemaSummaries"]
    return [s["name"] for s in summaries]


def batch_get_schema(names: list[str]) -> bytes:
    """BatchGetSchema's answer: a whole schema of each name, no errors."""
    shape = _operation("BatchGetSchema").output_shape.members["schemas"].member
    schemas = [{**_value(shape, f"{i}", 0), "name": name} for i, name in enumerate(names)]
    return json.dumps({"schemas": schemas, "errors": []}).encode()


def page(operation: str, items: int = 25) -> bytes:
    """One page of ``items`` summaries, no ``nextToken``; for a Get, its one answer."""
    shape = _operation(operation).output_shape
    if not any(m.type_name == "list" for m in shape.members.values()):
        return json.dumps(_value(shape, "0", 0)).encode()  # GetAnalysisLogExport, say
    key = list_member(operation)
    summary = shape.members[key].member
    body = {key: [_value(summary, f"{i}", 0) for i in range(items)]}
    return json.dumps(body).encode()


def _value(shape: Any, tag: str, depth: int) -> Any:
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type:
        names = list(shape.members)[:1] if shape.is_tagged_union else list(shape.members)
        return {
            shape.members[n].serialization.get("name", n): _value(shape.members[n], tag, depth + 1)
            for n in names
        }
    if kind == "list":
        return [_value(shape.member, f"{tag}.{i}", depth + 1) for i in range(2 if depth < 4 else 0)]
    if kind == "map":
        return {f"key{i}": _value(shape.value, f"{tag}.{i}", depth + 1) for i in range(2)}
    return _scalar(shape, tag)


def _scalar(shape: Any, tag: str) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        return 1_760_000_000.125 + len(tag)
    if kind in ("integer", "long"):
        return 1000 + len(tag)
    if kind in ("float", "double"):
        return 0.5 + len(tag)
    if kind == "boolean":
        return True
    if kind == "structure":
        return {"document": tag}
    if shape.enum:
        return shape.enum[0]
    name = shape.name.lower()
    if "arn" in name:
        return f"arn:aws:cleanrooms:us-east-1:111122223333:resource/{IDENTIFIER[: -len(tag)]}{tag}"
    if "accountid" in name:
        return "111122223333"
    return f"{shape.name[:20]}-{tag}-{IDENTIFIER[:12]}"

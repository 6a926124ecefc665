"""The fake's schemas (tables as a collaboration sees them): ListSchemas and BatchGetSchema.

moto lacks both. ListSchemas answers the collaboration's schema summaries (optionally of
one ``schemaType``), paged like the API; BatchGetSchema answers 1 to 25 names from its
POST body, each as a whole schema with its status details, or as an ``errors[]`` entry
(a name it does not know, or one a test made fail). An unknown collaboration is
ResourceNotFound, as moto's collaborations are. The server checks every answer against
botocore's ``cleanrooms`` model.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from exporter.demo.fake.api import (
    ErrorAnswer,
    Handler,
    Request,
    Route,
    Store,
    known_collaboration,
    paginate,
    register,
)

Key = tuple[str, str, str]  # (account_id, region, collaboration_id)
SUMMARY = (
    "name",
    "type",
    "creatorAccountId",
    "createTime",
    "updateTime",
    "collaborationId",
    "collaborationArn",
    "analysisRuleTypes",
)
MAX_NAMES = 25  # BatchGetSchema's model bounds names to 1..25


def ready(rule: str = "AGGREGATION") -> dict[str, Any]:
    """A READY SchemaStatusDetail of one analysis rule type."""
    return {"status": "READY", "analysisRuleType": rule, "analysisType": "DIRECT_ANALYSIS"}


def not_ready(rule: str, *codes: str) -> dict[str, Any]:
    """A NOT_READY SchemaStatusDetail of one analysis rule type, with its reason codes."""
    reasons = [{"code": code, "message": f"{code}: simulated"} for code in codes]
    return {**ready(rule), "status": "NOT_READY", "reasons": reasons}


@register
class SchemasStore(Store):
    """Schemas as the API sends them, per (account, region, collaboration), by name."""

    name = "schemas"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[Key, dict[str, dict[str, Any]]] = {}
        self.failing: dict[Key, dict[str, str]] = {}  # name -> the error code it answers

    def routes(self) -> dict[Route, Handler]:
        return {
            ("cleanrooms", "ListSchemas"): self._list,
            ("cleanrooms", "BatchGetSchema"): self._batch_get,
        }

    def add_schema(
        self,
        key: Key,
        name: str,
        details: Iterable[dict[str, Any]],
        created: float,
        kind: str = "TABLE",
    ) -> None:
        """A schema of the collaboration ``key`` with its status details."""
        account_id, region, collaboration_id = key
        listed = list(details)
        rules = sorted({d["analysisRuleType"] for d in listed if "analysisRuleType" in d})
        schema = {
            "columns": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}],
            "partitionKeys": [],
            "analysisRuleTypes": rules,
            "creatorAccountId": account_id,
            "name": name,
            "collaborationId": collaboration_id,
            "collaborationArn": (
                f"arn:aws:cleanrooms:{region}:{account_id}:collaboration/{collaboration_id}"
            ),
            "description": f"{name}: simulated",
            "createTime": created,
            "updateTime": created,
            "type": kind,
            "schemaStatusDetails": listed,
        }
        with self.lock:
            self.items.setdefault(key, {})[name] = schema

    def set_details(self, key: Key, name: str, details: Iterable[dict[str, Any]]) -> None:
        """New status details of a schema (a partner changed a rule); updateTime stays.

        Raises KeyError for a schema ``add_schema`` never made: a seeding mistake is loud.
        """
        with self.lock:
            self.items[key][name]["schemaStatusDetails"] = list(details)

    def fail(self, key: Key, name: str, code: str = "InternalServerException") -> None:
        """Make BatchGetSchema answer ``name`` with an errors[] entry of ``code``."""
        with self.lock:
            self.failing.setdefault(key, {})[name] = code

    def _list(self, request: Request) -> dict[str, Any]:
        collaboration_id = request.path["collaborationIdentifier"]
        known_collaboration(request, collaboration_id)
        key = (request.account_id, request.region, collaboration_id)
        wanted = request.query.get("schemaType")
        with self.lock:
            found = [
                {k: copy.deepcopy(s[k]) for k in SUMMARY}
                for s in self.items.get(key, {}).values()
                if wanted is None or s["type"] == wanted
            ]
        return paginate(found, request.query, "schemaSummaries")

    def _batch_get(self, request: Request) -> dict[str, Any]:
        collaboration_id = request.path["collaborationIdentifier"]
        known_collaboration(request, collaboration_id)
        names = request.body.get("names")
        if not isinstance(names, list) or not 1 <= len(names) <= MAX_NAMES:
            raise ErrorAnswer(400, "ValidationException", "names: between 1 and 25 names")
        key = (request.account_id, request.region, collaboration_id)
        schemas, errors = [], []
        with self.lock:
            known, failing = self.items.get(key, {}), self.failing.get(key, {})
            for name in names:
                if name in failing or name not in known:
                    code = failing.get(name, "ResourceNotFoundException")
                    errors.append({"name": name, "code": code, "message": f"{code}: {name}"})
                else:
                    schemas.append(copy.deepcopy(known[name]))
        return {"schemas": schemas, "errors": errors}

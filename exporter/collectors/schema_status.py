"""What BatchGetSchema says of a table: whether partners can query it, and why not.

A schema (a table as the collaboration sees it) has one ``schemaStatusDetails`` entry per
analysis rule type and analysis type it serves, each ``READY`` or ``NOT_READY`` with the
reasons. The ``schemas`` collector counts a schema once, by one status:

- ``NOT_READY`` if any of its details is ``NOT_READY``: some analysis of the table fails;
- ``READY`` if it has details and every one is ``READY``;
- otherwise the first status it names that is neither (a status AWS adds later, kept as
  received), or ``UNKNOWN`` for a schema without any detail.

Its reasons are every (analysis rule type, reason code) of its ``NOT_READY`` details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READY, NOT_READY, UNKNOWN = "READY", "NOT_READY", "UNKNOWN"
STATUSES = (NOT_READY, READY)  # the model's SchemaStatus
TYPES = ("ID_MAPPING_TABLE", "INTERMEDIATE_TABLE", "TABLE")  # the model's SchemaType
NO_RULE = "NONE"  # the analysis_rule_type of a detail that names none

# Each SchemaStatusReasonCode of the model in words, for the status page.
REASON_WORDS = {
    "ANALYSIS_RULE_MISSING": "the table has no analysis rule",
    "ANALYSIS_TEMPLATES_NOT_CONFIGURED": "no analysis template is allowed on it",
    "ANALYSIS_PROVIDERS_NOT_CONFIGURED": "no analysis provider is configured",
    "DIFFERENTIAL_PRIVACY_POLICY_NOT_CONFIGURED": "the differential privacy policy is not set",
    "ID_MAPPING_TABLE_NOT_POPULATED": "the ID mapping table is not populated",
    "COLLABORATION_ANALYSIS_RULE_NOT_CONFIGURED": "the collaboration analysis rule is not set",
    "ADDITIONAL_ANALYSES_NOT_CONFIGURED": "additional analyses are not configured",
    "RESULT_RECEIVERS_NOT_CONFIGURED": "no result receivers are configured",
    "ADDITIONAL_ANALYSES_NOT_ALLOWED": "additional analyses are not allowed",
    "RESULT_RECEIVERS_NOT_ALLOWED": "the result receivers are not allowed",
    "ANALYSIS_RULE_TYPES_NOT_COMPATIBLE": "its analysis rule types are not compatible",
    "INTERMEDIATE_TABLE_NOT_POPULATED": "the intermediate table is not populated",
    "INTERMEDIATE_TABLE_ANALYSIS_RULE_MISSING": "the intermediate table has no analysis rule",
    "INTERMEDIATE_TABLE_BASE_TABLE_REMOVED": "a base table of the intermediate table is gone",
    "INTERMEDIATE_TABLE_INHERITED_CONSTRAINTS_VIOLATED": (
        "the intermediate table breaks constraints it inherits"
    ),
    "INTERMEDIATE_TABLE_DISALLOWED_BY_DATA_PROVIDER": (
        "a data provider disallowed the intermediate table"
    ),
    "INTERMEDIATE_TABLE_RETENTION_PERIOD_EXPIRED": "the intermediate table's data expired",
}

Reason = tuple[str, str]  # (analysis rule type, reason code)


@dataclass(frozen=True, slots=True)
class Status:
    """One schema as BatchGetSchema tells it: its name, one status, its reasons."""

    name: str
    status: str
    reasons: tuple[Reason, ...] = ()  # sorted, each once


def in_words(code: str) -> str:
    """A reason code as the status page says it; a code AWS adds later, lower-cased."""
    return REASON_WORDS.get(code) or code.replace("_", " ").lower()


def parse(item: Any) -> Status | None:
    """One Schema of a BatchGetSchema answer, or None when it is malformed."""
    if not isinstance(item, Mapping):
        return None
    name, details = item.get("name"), item.get("schemaStatusDetails")
    if not isinstance(name, str) or not name or not isinstance(details, list):
        return None
    statuses: list[str] = []
    reasons: set[Reason] = set()
    for detail in details:
        found = _detail(detail)
        if found is None:
            return None
        status, detail_reasons = found
        statuses.append(status)
        reasons.update(detail_reasons)
    return Status(name, overall(statuses), tuple(sorted(reasons)))


def overall(statuses: list[str]) -> str:
    """One status for all of a schema's details (see the module's docstring)."""
    if NOT_READY in statuses:
        return NOT_READY
    others = [s for s in statuses if s != READY]
    if others:
        return others[0]
    return READY if statuses else UNKNOWN


def _detail(detail: Any) -> tuple[str, list[Reason]] | None:
    """(status, its reasons) of one SchemaStatusDetail; None when malformed."""
    if not isinstance(detail, Mapping):
        return None
    status, raw = detail.get("status"), detail.get("reasons") or []
    if not isinstance(status, str) or not status or not isinstance(raw, list):
        return None
    rule = detail.get("analysisRuleType")
    rule = rule if isinstance(rule, str) and rule else NO_RULE
    reasons = []
    for reason in raw:
        code = reason.get("code") if isinstance(reason, Mapping) else None
        if not isinstance(code, str) or not code:
            return None
        reasons.append((rule, code))
    return status, (reasons if status == NOT_READY else [])

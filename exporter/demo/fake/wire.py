"""Answers as the wire carries them: each timestamp in the format its service model says.

Stores keep times as Unix seconds. Clean Rooms (rest-json, no format given) sends epoch
seconds, as JSON-protocol services (Service Quotas) do; Clean Rooms ML marks its
timestamps ``iso8601`` and sends strings such as ``2026-12-06T11:29:12.345Z``. ``encode``
walks an answer along its output shape and writes each timestamp as the model says, so the
exporter parses what AWS really sends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ISO8601 = "iso8601"
UNIX = "unixTimestamp"


def timestamp_format(shape: Any) -> str:
    """The wire format of a timestamp shape: its own, else rest-json's epoch seconds."""
    found = shape.serialization.get("timestampFormat")
    return found if isinstance(found, str) else UNIX


def iso8601(seconds: float) -> str:
    """Unix seconds as AWS writes an ISO 8601 time: UTC, milliseconds, a Z."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encode(shape: Any, value: Any) -> Any:
    """``value`` with each timestamp (Unix seconds) written in its shape's wire format."""
    kind = shape.type_name
    if kind == "timestamp":
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return iso8601(value) if numeric and timestamp_format(shape) == ISO8601 else value
    if kind == "structure" and isinstance(value, dict):
        return {
            name: encode(shape.members[name], member) if name in shape.members else member
            for name, member in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [encode(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {key: encode(shape.value, item) for key, item in value.items()}
    return value

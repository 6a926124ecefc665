"""Check a response body against botocore's service model, as the real API would send it.

The fake Clean Rooms validates every response it sends with this, so it cannot
drift from the real API: required members, no unknown members, enums, types,
lengths, ranges, patterns and each timestamp's wire format, all read from botocore's
own model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import botocore.session

from exporter.demo.fake.wire import ISO8601, timestamp_format

Problems = list[str]


@cache
def service_model(service: str = "cleanrooms") -> Any:
    """botocore's model of the service (loaded once)."""
    return botocore.session.get_session().get_service_model(service)


def validate_output(operation: str, body: Any, service: str = "cleanrooms") -> Problems:
    """Every way ``body`` (decoded JSON, as sent on the wire) differs from the output shape."""
    shape = service_model(service).operation_model(operation).output_shape
    problems: Problems = []
    _check(shape, body, operation, problems)
    return problems


def _check(shape: Any, value: Any, path: str, problems: Problems) -> None:
    check = _CHECKS.get(shape.type_name)
    if check is None:
        problems.append(f"{path}: no check for shape type {shape.type_name}")
        return
    check(shape, value, path, problems)


def _structure(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    for name in shape.required_members:
        if name not in value:
            problems.append(f"{path}.{name}: required member missing")
    for name, member in value.items():
        if name not in shape.members:
            problems.append(f"{path}.{name}: not a member of {shape.name}")
        elif member is not None:
            _check(shape.members[name], member, f"{path}.{name}", problems)


def _list(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, list):
        problems.append(f"{path}: expected a list, got {type(value).__name__}")
        return
    _length(shape, len(value), path, problems)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}[{index}]", problems)


def _map(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    for key, item in value.items():
        _check(shape.key, key, f"{path} key {key!r}", problems)
        _check(shape.value, item, f"{path}[{key!r}]", problems)


def _string(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, str):
        problems.append(f"{path}: expected a string, got {type(value).__name__}")
        return
    if shape.enum and value not in shape.enum:
        problems.append(f"{path}: {value!r} is not one of {shape.enum}")
    _length(shape, len(value), path, problems)
    pattern = _pattern(shape.metadata.get("pattern"))
    if pattern is not None and not pattern.fullmatch(value):
        problems.append(f"{path}: {value!r} does not match {pattern.pattern}")


def _integer(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        problems.append(f"{path}: expected an integer, got {value!r}")
        return
    _range(shape, value, path, problems)


def _number(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append(f"{path}: expected a number, got {value!r}")
        return
    _range(shape, value, path, problems)


def _boolean(shape: Any, value: Any, path: str, problems: Problems) -> None:
    if not isinstance(value, bool):
        problems.append(f"{path}: expected true or false, got {value!r}")


_ISO8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")


def _timestamp(shape: Any, value: Any, path: str, problems: Problems) -> None:
    # Each timestamp in its model's format: rest-json's epoch seconds unless it says iso8601.
    if timestamp_format(shape) == ISO8601:
        if not isinstance(value, str) or not _ISO8601.fullmatch(value):
            problems.append(f"{path}: expected an ISO 8601 time, got {value!r}")
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        problems.append(f"{path}: expected epoch seconds, got {value!r}")


def _length(shape: Any, length: int, path: str, problems: Problems) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and length < low) or (high is not None and length > high):
        problems.append(f"{path}: length {length} outside [{low}, {high}]")


def _range(shape: Any, value: float, path: str, problems: Problems) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        problems.append(f"{path}: {value} outside [{low}, {high}]")


@cache
def _pattern(text: str | None) -> re.Pattern[str] | None:
    if not text:
        return None
    try:
        return re.compile(text)
    except re.error:  # a Java-only construct: lengths and types are still checked
        return None


_CHECKS: dict[str, Callable[[Any, Any, str, Problems], None]] = {
    "structure": _structure,
    "list": _list,
    "map": _map,
    "string": _string,
    "integer": _integer,
    "long": _integer,
    "double": _number,
    "float": _number,
    "boolean": _boolean,
    "timestamp": _timestamp,
}

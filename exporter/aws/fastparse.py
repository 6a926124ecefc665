"""A success-path rest-json response parser compiled from botocore's service model.

botocore's parser walks the output shape field by field on every response, looking up
a handler per value. This one compiles, once per output shape, a plan from the same
model: which members to keep (renamed by ``serialization.name``, unknown ones dropped),
which values are timestamps, integers, booleans or blobs, and how lists, maps, nested
structures and tagged unions nest. A response is then decoded once with ``json.loads``
and converted by the plan. It is installed through the session's documented
``response_parser_factory`` component, so signing, retries, endpoints and credentials
stay botocore's.

Error answers (status 300 and above), shapes the plan does not cover (payload members,
header or status-code members, event streams) and any body that does not fit the
model are handed to botocore's own ``RestJSONParser``, so the result is always what
botocore would have returned (``tests/unit/aws/test_fastparse.py`` proves it per operation).
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

from botocore.model import Shape
from botocore.parsers import LOG as BOTOCORE_PARSER_LOG
from botocore.parsers import ResponseParserFactory, RestJSONParser
from botocore.utils import ensure_boolean, lowercase_dict

PROTOCOL = "rest-json"
Convert = Callable[[Any], Any]


class Unusual(Exception):
    """The body does not fit the plan: botocore's parser decides what it means."""


class Plans:
    """One converter per output shape, compiled on first use and kept with the shape."""

    def __init__(self, timestamp_parser: Convert, blob_parser: Convert) -> None:
        self._scalars: dict[str, Convert | None] = {
            "timestamp": timestamp_parser,
            "blob": blob_parser,
            # botocore's rest-json handlers for these types, applied to any value as it does.
            "integer": int,
            "long": int,
            "float": float,
            "double": float,
            "boolean": ensure_boolean,
        }
        # Shapes are cached per client by botocore; weak keys let a dropped client go.
        self._plans: weakref.WeakKeyDictionary[Shape, Convert | None] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._active: set[str] = set()  # shapes being compiled, to spot recursion

    def for_output(self, shape: Shape) -> Convert | None:
        """The converter of an operation's output body, or None when botocore must parse it."""
        try:
            return self._plans[shape]
        except KeyError:
            pass
        plan = self._plans[shape] = self._output_plan(shape)
        return plan

    def _output_plan(self, shape: Shape) -> Convert | None:
        serialization = shape.serialization
        if shape.type_name != "structure" or "payload" in serialization:
            return None
        if serialization.get("eventstream") or "ResponseMetadata" in shape.members:
            return None
        if any(m.serialization.get("location") for m in shape.members.values()):
            return None  # headers or the status code: botocore's own non-payload parse
        with self._lock:  # compiling is rare; one at a time keeps _active simple
            return _body_structure(self._compile(shape, {}))

    def _compile(self, shape: Shape, memo: dict[str, Convert | None]) -> Convert | None:
        """A converter for one shape; None means the JSON value is kept as it is."""
        name = shape.name
        if name in memo:
            return memo[name]
        if name in self._active:  # a recursive shape: bound late, once it is compiled
            return _late(memo, name)
        self._active.add(name)
        kind = shape.type_name
        if kind == "structure" and not shape.is_document_type:
            converter: Convert | None = self._structure(shape, memo)
        elif kind == "list":
            converter = _list(self._compile(shape.member, memo))
        elif kind == "map":
            converter = _map(self._compile(shape.key, memo), self._compile(shape.value, memo))
        else:  # strings (body members are taken as they come), documents and scalars
            converter = self._scalars.get(kind)
        self._active.discard(name)
        memo[name] = converter
        return converter

    def _structure(self, shape: Shape, memo: dict[str, Convert | None]) -> Convert:
        members = tuple(
            (name, member.serialization.get("name", name), self._compile(member, memo))
            for name, member in shape.members.items()
        )
        if shape.is_tagged_union:
            wire_names = frozenset(key for _, key, _ in members)
            return _union(_structure(members), wire_names)
        return _structure(members)


def _late(memo: dict[str, Convert | None], name: str) -> Convert:
    def convert(value: Any) -> Any:
        member = memo[name]
        return value if member is None else member(value)

    return convert


def _structure(members: tuple[tuple[str, str, Convert | None], ...]) -> Convert:
    """A structure's converter, written out as one lookup and one store per member.

    It runs for every summary of every page, where an interpreted loop over the
    members costs more than the lookups and stores themselves. The source holds only the
    model's member names, each as its ``repr()`` (a string literal of exactly that
    name), and the converters of nested values, passed by reference.
    """
    namespace: dict[str, Any] = {"Unusual": Unusual}
    lines = [
        "def convert(value):",
        "    if value is None:",
        "        return None",  # botocore keeps a null structure (a map's value) as None
        "    if type(value) is not dict:",
        "        raise Unusual",
        "    parsed = {}",
    ]
    for index, (name, key, member) in enumerate(members):
        stored = "item"
        if member is not None:
            namespace[f"member_{index}"] = member
            stored = f"member_{index}(item)"
        lines += [
            f"    item = value.get({key!r})",
            "    if item is not None:",
            f"        parsed[{name!r}] = {stored}",
        ]
    lines.append("    return parsed")
    source = "\n".join(lines)
    exec(compile(source, "<fastparse structure>", "exec"), namespace)  # noqa: S102
    convert: Convert = namespace["convert"]
    return convert


def _union(structure: Convert, wire_names: frozenset[str]) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is dict:
            tags = [k for k, v in value.items() if v is not None and k != "__type"]
            # None, several or an unknown member: botocore raises or reports it its own way.
            if len(tags) != 1 or tags[0] not in wire_names:
                raise Unusual
        return structure(value)

    return convert


def _list(member: Convert | None) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not list:
            raise Unusual  # botocore would iterate whatever it is
        if member is None:
            return value
        return [None if item is None else member(item) for item in value]

    return convert


def _map(key: Convert | None, value_of: Convert | None) -> Convert:
    def convert(value: Any) -> Any:
        if type(value) is not dict:
            raise Unusual
        if key is None and value_of is None:
            return value
        # botocore converts every value of a map, a null one included.
        return {
            (k if key is None else key(k)): (v if value_of is None else value_of(v))
            for k, v in value.items()
        }

    return convert


def _body_structure(structure: Convert | None) -> Convert | None:
    """The top-level body: a JSON object, and nothing else."""
    if structure is None:
        return None

    def convert(value: Any) -> Any:
        if type(value) is not dict:
            raise Unusual
        return structure(value)

    return convert


class FastRestJSONParser(RestJSONParser):  # type: ignore[misc]
    """botocore's rest-json parser with a compiled success path."""

    def __init__(self, timestamp_parser: Convert | None = None, blob_parser: Any = None) -> None:
        super().__init__(timestamp_parser=timestamp_parser, blob_parser=blob_parser)
        # The very callables botocore's handlers would use, defaults included.
        self._plans = Plans(self._timestamp_parser, self._blob_parser)

    def parse(self, response: dict[str, Any], shape: Shape | None) -> Any:
        """Like ``RestJSONParser.parse``; the same result, with less CPU on a 2xx answer."""
        if response["status_code"] >= 300 or shape is None:
            return super().parse(response, shape)
        if BOTOCORE_PARSER_LOG.isEnabledFor(logging.DEBUG):
            return super().parse(response, shape)  # keep botocore's debug log of the body
        plan = self._plans.for_output(shape)
        if plan is None:
            return super().parse(response, shape)
        try:
            body = json.loads(response["body"].decode(self.DEFAULT_ENCODING))
            members = plan(body)
        except Exception:
            # Unusual on purpose, or a value botocore's handlers would choke on too
            # (an int() of a word, invalid JSON): botocore parses it, or raises its own error.
            return super().parse(response, shape)
        parsed = {"ResponseMetadata": self._response_metadata(response)}
        parsed.update(members)
        return parsed

    def _response_metadata(self, response: dict[str, Any]) -> dict[str, Any]:
        # The same steps, in the same order, as botocore's parse() for a 2xx answer.
        metadata: dict[str, Any] = self._populate_response_metadata(response)
        metadata["HTTPStatusCode"] = response["status_code"]
        metadata["HTTPHeaders"] = lowercase_dict(response["headers"])
        self._add_checksum_response_metadata(response, metadata)
        return metadata


class FastParserFactory(ResponseParserFactory):  # type: ignore[misc]
    """botocore's factory, handing out one shared compiled parser for rest-json.

    botocore builds a new parser for every response; the compiled one is stateless
    apart from its plans, so one instance serves every thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[str, Any] = {}
        self._shared: FastRestJSONParser | None = None
        self._lock = threading.Lock()

    def set_parser_defaults(self, **kwargs: Any) -> None:
        super().set_parser_defaults(**kwargs)
        with self._lock:
            self._settings.update(kwargs)
            self._shared = None

    def create_parser(self, protocol_name: str) -> Any:
        if protocol_name != PROTOCOL:
            return super().create_parser(protocol_name)
        parser = self._shared
        if parser is None:
            with self._lock:
                parser = self._shared
                if parser is None:
                    parser = self._shared = FastRestJSONParser(**self._settings)
        return parser

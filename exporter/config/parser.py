"""The problem-collecting parser every configuration file shares, and reading YAML safely.

A parser records each problem with its path (``accounts[1].role_arn: ...``) instead of
stopping at the first, so an operator fixes a whole file in one go. The exporter's
file and the ``--web.config.file`` both subclass ``Parser``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from exporter.config.ids import external_id_problem

SECRET_KEYS = frozenset({"external_id"})
# The shortest poll interval anywhere (file, collectors, --demo.poll-interval): the tests
# and benches poll stand-ins that fast; against AWS, quotas make under a minute pointless.
MIN_INTERVAL = 0.1
_DURATION_RE = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` lists each one with its path.

    ``source`` names the file the problems were found in, when there is one.
    """

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = problems
        self.source = None if source is None else str(source)
        where = f" in {self.source}" if self.source else ""
        super().__init__(f"invalid configuration{where}:\n" + "\n".join(f"  {p}" for p in problems))

    def in_file(self, source: str | Path) -> ConfigError:
        """The same problems, naming the file they were found in."""
        return ConfigError(self.problems, source)

    @staticmethod
    def of_files(errors: Sequence[ConfigError]) -> ConfigError:
        """One error for the problems of several files, each list under its file's name."""
        if len(errors) == 1:
            return errors[0]
        joined = ConfigError([p for err in errors for p in err.problems])
        joined.args = ("\n".join(str(err) for err in errors),)
        return joined


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration (``90s``, ``5m``, ``1h30m``, ``250ms``) to seconds."""
    match = _DURATION_RE.match(text.strip()) if text.strip() else None
    if not match or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r} (use e.g. 30s, 5m, 1h)")
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def interval_problem() -> str:
    return f"must be at least {MIN_INTERVAL * 1000:g}ms: a poll interval that short is a typo"


def parse_interval(text: str, flag: str) -> float:
    """A poll interval given on the command line; ``ValueError`` names the flag."""
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise ValueError(f"{flag}: {err}") from err
    if seconds < MIN_INTERVAL:
        raise ValueError(f"{flag}: {interval_problem()}")
    return seconds


def read_text(path: str | Path) -> str:
    """A config file's text; unreadable or non-UTF-8 files are a ``ConfigError`` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ConfigError([f"cannot read: {err.strerror or err}"], path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        problem = f"line {line}, column {column}: not UTF-8 text (byte {data[err.start]:#04x})"
        raise ConfigError([problem], path) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, noting each key a mapping repeats (PyYAML keeps the last silently)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.repeated: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # a merge key (<<) may be overridden by design
            key = self.construct_object(key_node, deep=deep)
            mark = key_node.start_mark
            try:
                earlier = first.setdefault(key, mark)
            except TypeError:  # an unhashable key: the constructor reports it below
                continue
            if earlier is not mark:
                again, before = _where(mark, earlier), _where(earlier, mark)
                self.repeated.append(f"{again}: key {key!r} repeats the key of {before}")
        return super().construct_mapping(node, deep=deep)


def _where(mark: yaml.Mark, other: yaml.Mark) -> str:
    """``line N``, with the column when both marks are on one line."""
    if mark.line == other.line:
        return f"line {mark.line + 1}, column {mark.column + 1}"
    return f"line {mark.line + 1}"


def read_yaml(text: str, lines: dict[str, int] | None = None) -> Any:
    """``yaml.safe_load`` with a syntax error as a ``ConfigError``; an empty file is ``{}``.

    A syntax error gives its line and column (1-based), as an editor counts them; a key
    repeated in one mapping is an error naming both lines. ``lines``, when given, receives
    the line of every mapping key by its path (``accounts[0].role_arn``), for problems.
    """
    try:
        raw, repeated = _load(text, lines)
    except yaml.MarkedYAMLError as err:
        raise ConfigError([_yaml_problem(err)]) from None
    except yaml.YAMLError as err:
        raise ConfigError([f"yaml: {' '.join(str(err).split())}"]) from None
    except RecursionError:  # PyYAML's composer recurses once per level: [[[[...
        raise ConfigError(["yaml: nested too deeply"]) from None
    if repeated:
        raise ConfigError(repeated)
    return {} if raw is None else raw


def _load(text: str, lines: dict[str, int] | None) -> tuple[Any, list[str]]:
    loader = _UniqueKeyLoader(text)  # reads the stream: may raise for a bad character
    try:
        node = loader.get_single_node()
        if lines is not None:
            lines.update(_key_lines(node))
        data = None if node is None else loader.construct_document(node)
        return data, loader.repeated
    finally:
        loader.dispose()


_MERGE = "tag:yaml.org,2002:merge"


def _key_lines(root: yaml.Node | None) -> dict[str, int]:
    """The 1-based line of each mapping key, by the path problems name it with.

    Iterative, and each node once: deep nesting cannot recurse and an alias repeated
    many times ("billion laughs") is not walked again.
    """
    lines: dict[str, int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node | None, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE:
                    where = join(path, str(key.value))
                    lines.setdefault(where, key.start_mark.line + 1)
                    stack.append((value, where))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    return lines


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """``, did you mean NAME?`` for the known name closest to ``word``, or nothing."""
    names = {name.lower(): name for name in known}
    # 0.75: a typo (rolearn, poll_intervall, memebers) scores 0.85 and more; an unrelated
    # word that shares letters (colour, collectors: 0.63) gets no guess.
    close = difflib.get_close_matches(word.lower(), sorted(names), n=1, cutoff=0.75)
    return f", did you mean {names[close[0]]}?" if close else ""


def _yaml_problem(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    problem = " ".join(str(err.problem or err.context or "syntax error").split())
    if mark is None:
        return f"yaml: {problem}"
    context = ""
    if err.context and err.problem and err.context_mark and err.context_mark.line != mark.line:
        context = f" ({err.context} at line {err.context_mark.line + 1})"
    return f"line {mark.line + 1}, column {mark.column + 1}: yaml: {problem}{context}"


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Parser:
    """Field-by-field validation that records problems instead of stopping at the first.

    ``lines`` (from ``read_yaml``) gives the line of each key, for the problems of keys
    that are not in the file's vocabulary: those are found by eye.
    """

    def __init__(self, problems: list[str], lines: Mapping[str, int] | None = None) -> None:
        self.problems = problems
        self.lines = lines or {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def key_problem(self, path: str, message: str) -> None:
        """A problem of the key at ``path`` itself, led by its line when the file has one."""
        line = self.lines.get(path)
        self.problem(f"line {line}: {path}" if line else path, message)

    def unknown_keys(
        self,
        raw: dict[str, Any],
        allowed: frozenset[str],
        path: str,
        reasons: Mapping[str, str] | None = None,
    ) -> None:
        """A problem per key not in ``allowed``, with its line and the closest allowed key;
        ``reasons`` say why instead, by the key's full path."""
        for key in raw:
            where = join(path, str(key))
            if key not in allowed:
                reason = (reasons or {}).get(where)
                self.key_problem(where, reason or "unknown key" + did_you_mean(str(key), allowed))

    def duration(self, raw: dict[str, Any], key: str, default: float, path: str) -> float:
        value = raw.get(key)
        if value is None:
            return default
        where = join(path, key)
        if not isinstance(value, str):
            self.problem(where, f"must be a duration string like 30s or 5m, got {value!r}")
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as err:
            self.problem(where, str(err))
            return default
        if seconds <= 0:
            self.problem(where, "must be greater than zero")
        return seconds

    def interval(self, raw: dict[str, Any], key: str, default: float, path: str) -> float:
        """A poll interval: a duration of at least ``MIN_INTERVAL``."""
        seconds = self.duration(raw, key, default, path)
        if 0 < seconds < MIN_INTERVAL:
            self.problem(join(path, key), interval_problem())
        return seconds

    def positive_int(self, raw: dict[str, Any], key: str, default: int, path: str) -> int:
        value = raw.get(key, default)
        where = join(path, key)
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem(where, f"must be an integer, got {value!r}")
            return default
        if value <= 0:
            self.problem(where, "must be greater than zero")
        return value

    def boolean(self, raw: dict[str, Any], key: str, default: bool, path: str = "") -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.problem(join(path, key), f"must be true or false, got {value!r}")
            return default
        return value

    def string(self, raw: dict[str, Any], key: str, path: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            # An external id is a secret: say what is wrong without repeating it.
            got = "" if key in SECRET_KEYS else f", got {value!r}"
            self.problem(join(path, key), f"must be a non-empty string{got}")
            return None
        return value

    def external_id(self, raw: dict[str, Any], path: str) -> str | None:
        """An ``external_id``, checked offline as STS would check it (never quoted back)."""
        value, where = self.string(raw, "external_id", path), join(path, "external_id")
        # A value already reported (an unset variable, say) is not judged again.
        reported = any(p.startswith(f"{where}: ") for p in self.problems)
        if value is not None and not reported and (problem := external_id_problem(value)):
            self.problem(where, problem)
        return value

    def mapping(self, raw: dict[str, Any], key: str, path: str = "") -> dict[str, Any]:
        """A sub-mapping; absent is empty, anything else but a mapping is a problem."""
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(join(path, key), "must be a mapping")
            return {}
        return value

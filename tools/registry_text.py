"""What the collector registry says, as the README, docs, config and Helm values show it.

Each function renders one generated part (``tools.generate``) from ``exporter.collectors``.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from exporter.collectors import REGISTRY
from exporter.collectors.base import CollectorSpec, Option
from exporter.core.series import TARGET_LABELS, Family
from exporter.metrics.declared import polled

SERVICE_NAMES = {"cleanroomsml": "Clean Rooms ML", "service-quotas": "Service Quotas"}


def _default(spec: CollectorSpec[Any]) -> str:
    if spec.polling.primary:
        return "always on"
    return "on" if spec.polling.default_enabled else "off"


def _code(items: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{item}`" for item in items)


def collectors_table() -> str:
    """One row per collector: default, operations, calls per poll, IAM actions."""
    rows = [
        "| collector | default | API operations | calls per poll, per target | IAM actions |",
        "|---|---|---|---|---|",
    ]
    for spec in REGISTRY:
        operations = _code(spec.polling.operations)
        service = SERVICE_NAMES.get(spec.polling.service)
        if service:
            operations += f" ({service})"
        actions = _code(spec.iam_actions)
        if not spec.polling.primary:
            actions += " (optional)"
        formula = spec.polling.calls.formula
        rows.append(f"| `{spec.name}` | {_default(spec)} | {operations} | {formula} | {actions} |")
    return "\n".join(rows)


def wrap(text: str, width: int, prefix: str) -> list[str]:
    """Lines of ``text`` at most ``width`` long, each after ``prefix``; words kept whole."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=prefix,
        subsequent_indent=prefix,
        break_on_hyphens=False,
        break_long_words=False,
    )


def _wrapped(actions: list[str], width: int, prefix: str) -> list[str]:
    return wrap(", ".join(json.dumps(a) for a in actions), width, prefix)


def iam_policy(indent: str = "") -> str:
    """The README's permission policy: the primary collector's action, then every other."""
    primary = [a for s in REGISTRY if s.polling.primary for a in s.iam_actions]
    others = _optional_actions()
    (first,) = primary
    lines = [
        "```json",
        "{",
        '  "Version": "2012-10-17",',
        '  "Statement": [',
        f'    {{"Effect": "Allow", "Action": "{first}", "Resource": "*"}},',
        '    {"Effect": "Allow", "Resource": "*", "Action": [',
        *_wrapped(others, 92 - len(indent), "      "),
        "    ]}",
        "  ]",
        "}",
        "```",
    ]
    return "\n".join(f"{indent}{line}" if line else line for line in lines)


def _optional_actions() -> list[str]:
    """Every other collector's actions in registry order, each once: collectors may share one
    (ml_collaboration_trained_models and ml_model_exports list a collaboration's models)."""
    found = [a for s in REGISTRY if not s.polling.primary for a in s.iam_actions]
    return list(dict.fromkeys(found))


def helm_actions() -> str:
    """The Helm values' comment listing every optional action."""
    text = ", ".join(_optional_actions())
    return "\n".join(wrap(text, 92, "#   "))


def duration(seconds: float) -> str:
    """A duration as the configuration writes it: 24h, 15m, 30s."""
    whole = int(seconds)
    for unit, size in (("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _value(option: Option) -> str:
    if option.kind == "duration":
        return duration(option.default)
    if option.kind == "bool":
        return "true" if option.default else "false"
    return str(int(option.default))


def _entry(spec: CollectorSpec[Any]) -> str:
    if spec.polling.primary:
        return "{}"
    keys = [f"enabled: {'true' if spec.polling.default_enabled else 'false'}"]
    if spec.polling.default_interval is not None:
        keys.append(f"interval: {duration(spec.polling.default_interval)}")
    keys += [f"{o.name}: {_value(o)}" for o in spec.polling.options]
    return "{" + ", ".join(keys) + "}"


def config_section() -> str:
    """config.example.yaml's collectors: each with its defaults, its doc above it."""
    lines = ["collectors:                  # one per Clean Rooms resource; see docs/collectors.md"]
    for spec in REGISTRY:
        if spec.polling.primary:
            lines.append(f"  {spec.name}: {{}}         # always on; follows poll_interval")
            continue
        lines += wrap(spec.doc, 100, "  # ")
        lines.append(f"  {spec.name}: {_entry(spec)}")
    return "\n".join(lines)


def config_block() -> str:
    """The collectors section with every default, for the docs."""
    width = max(len(s.name) for s in REGISTRY)
    lines = ["```yaml", "collectors:"]
    lines += [f"  {s.name + ':':<{width + 1}} {_entry(s)}" for s in REGISTRY]
    return "\n".join([*lines, "```"])


def _labels(family: Family) -> str:
    labels = [*family.labels, *family.info]
    return _code(labels) if labels else ""


def _family_row(spec: CollectorSpec[Any], family: Family) -> str:
    kind = "gauge (=1)" if family.type == "info" else family.type
    doc = family.help(polled(spec)).replace("|", "\\|")
    return f"| `{family.exposed}` | {kind} | {_labels(family)} | {doc} |"


def families_reference() -> str:
    """Every family of every collector, as declared: name, type, labels, help."""
    lines = [
        f"All carry {_code(list(TARGET_LABELS))}. Generated from each collector's declared "
        "families.",
        "",
    ]
    for spec in REGISTRY:
        calls = f"Calls per poll, per target: {spec.polling.calls.formula}."
        lines += [f"### `{spec.name}`", "", spec.doc, "", calls, ""]
        lines += ["| metric | type | labels | help |", "|---|---|---|---|"]
        lines += [_family_row(spec, f) for f in spec.rendering.families]
        for age in spec.rendering.ages:
            labels = _code(list(age.labels)) if age.labels else ""
            lines.append(f"| `{age.name}` | gauge | {labels} | {age.doc} {age.polled} |")
        lines.append("")
    return "\n".join(lines)

"""Series budgets, detail levels and what each control takes from the dashboards and alerts.

Each function renders one generated part of ``docs/metrics.md`` (``tools.generate``) from
the collectors' declared families, the Grafana dashboards and the Prometheus rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from exporter.collectors import REGISTRY
from exporter.collectors.base import AgeSpec, CollectorSpec
from exporter.core.series import DETAILS, SCOPES, Family, dropped_labels, item_labels
from exporter.metrics import folding
from exporter.metrics.health import COLLECTOR

ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS = ROOT / "grafana" / "dashboards"
RULE_FILES = (ROOT / "prometheus" / "rules.yaml", ROOT / "prometheus" / "alerts.yaml")
SCOPE_NAMES = ("target", "collaboration", "membership", "item")
_NAME = re.compile(r"\b(cleanrooms(?:_|:)[A-Za-z0-9_:]+)")
_SUFFIXES = ("_bucket", "_count", "_sum")


@dataclass(frozen=True)
class Declared:
    """One family or age of a collector, as the budget and the detail levels see it."""

    name: str  # as stored: _total, _info included
    labels: tuple[str, ...]
    items: tuple[str, ...]
    values: dict[str, int]
    histogram: bool = False

    @property
    def scope(self) -> str:
        """What one set of its series belongs to: an item, a membership, a collaboration."""
        if self.items:
            return "item"
        for scope in ("membership", "collaboration"):
            if SCOPES[scope] in self.labels:
                return scope
        return "target"

    @property
    def open(self) -> tuple[str, ...]:
        """Labels whose values come from what AWS answers: one more series per value."""
        fixed = {*self.items, *SCOPES.values(), *self.values}
        return tuple(name for name in self.labels if name not in fixed)

    @property
    def minimum(self) -> int:
        """Series per scope with every documented value present and nothing else."""
        if self.open:
            return 0
        return math.prod(self.values.get(name, 1) for name in self.labels if name in self.values)


def declared(spec: CollectorSpec[Any]) -> list[Declared]:
    """The collector's families and ages."""
    found = [_of_family(f) for f in spec.rendering.families]
    found += [_of_age(age) for age in spec.rendering.ages]
    return found


# A family several collectors share is labelled with the collector's own name: one value.
SHARED = {"collector": 1}


def _of_family(family: Family) -> Declared:
    items = item_labels(family.labels) if family.items is None else family.items
    values = SHARED | {name: len(found) for name, found in family.values}
    return Declared(family.exposed, family.labels, items, values, family.type == "histogram")


def _of_age(age: AgeSpec[Any]) -> Declared:
    items = item_labels(age.labels) if age.items is None else age.items
    return Declared(age.name, age.labels, items, dict(SHARED))


def _cell(found: list[Declared]) -> str:
    """The minimum, then the labels that add series per value AWS answers with."""
    if not found:
        return ""
    grows = [f"`{name}`" for name in sorted({name for d in found for name in d.open})]
    if any(d.histogram for d in found):
        grows.append("(histograms: buckets + 2 each)")
    fixed = str(sum(d.minimum for d in found))
    return f"{fixed} + per {', '.join(grows)}" if grows else fixed


def budget_table() -> str:
    """Per collector: series per target, ACTIVE collaboration, ACTIVE membership and item."""
    rows = [
        "| collector | per target | per ACTIVE collaboration | per ACTIVE membership | per item |",
        "|---|---:|---:|---:|---:|",
    ]
    for spec in REGISTRY:
        found = declared(spec)
        cells = [_cell([d for d in found if d.scope == scope]) for scope in SCOPE_NAMES]
        rows.append(f"| `{spec.name}` | " + " | ".join(cells) + " |")
    health = [c for c in COLLECTOR.columns if not c.is_error]
    rows += [
        "",
        f"Besides its own families, every enabled collector adds per target {len(health) + 1} "
        "`cleanrooms_collector_*` health series (the primary collector's are "
        "`cleanrooms_target_*`), one more while its last poll failed, and per operation it "
        "calls `cleanrooms_api_requests_total` and `cleanrooms_api_throttles_total` (from 0) "
        "and `cleanrooms_api_errors_total` per error code met.",
    ]
    return "\n".join(rows)


def _fate(family: Family, detail: str) -> str:
    plan = folding.plan(family, detail)
    if plan is None:
        return "dropped"
    if not plan.folds:
        return ""
    if not folding.merges(family.labels, family.dropped_labels(detail)):
        return "relabelled"
    return {"sum": "summed", "max": "max", "min": "min"}.get(plan.how, plan.how)


def detail_table() -> str:
    """Every family a coarser detail level changes, and what becomes of it at each level."""
    rows = [
        "| collector | family | " + " | ".join(f"`{d}`" for d in DETAILS[1:]) + " |",
        "|---|---|" + "---|" * (len(DETAILS) - 1),
    ]
    for spec in REGISTRY:
        for family in spec.rendering.families:
            fates = [_fate(family, detail) for detail in DETAILS[1:]]
            if any(fates):
                rows.append(f"| `{spec.name}` | `{family.exposed}` | " + " | ".join(fates) + " |")
        for age in spec.rendering.ages:
            fates = ["max" if dropped_labels(age.labels, age.items, d) else "" for d in DETAILS[1:]]
            if any(fates):
                rows.append(f"| `{spec.name}` | `{age.name}` | " + " | ".join(fates) + " |")
    return "\n".join(rows)


@dataclass(frozen=True)
class Use:
    """One dashboard panel or alert, and what its expressions use."""

    where: str  # "alert CleanRoomsX" or "Overview / Panel title"
    text: str  # every expression, joined

    @property
    def families(self) -> set[str]:
        return {_family_of(name) for name in _NAME.findall(self.text)}


def _family_of(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and not name.startswith("cleanrooms:"):
            return name.removesuffix(suffix)
    return name


def _recorded() -> dict[str, str]:
    """Recording rule name -> its expression."""
    return {r["record"]: r["expr"] for r in _rules() if "record" in r}


def _rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def _expand(text: str, recorded: dict[str, str]) -> str:
    """An expression with the recording rules it uses written out (their labels too)."""
    for _ in range(5):  # rules of rules, a few deep
        names = [n for n in _NAME.findall(text) if n in recorded]
        if not names:
            return text
        text += "\n" + "\n".join(recorded[n] for n in names)
    return text


def _alert_text(rule: dict[str, Any]) -> str:
    """What an alert reads: its expression, and the labels its annotations show."""
    annotations = rule.get("annotations", {})
    return "\n".join([rule["expr"], *(str(v) for v in annotations.values())])


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def uses() -> list[Use]:
    """Every alert, and every dashboard panel, with its expressions."""
    recorded = _recorded()
    found = [
        Use(f"alert {r['alert']}", _expand(_alert_text(r), recorded))
        for r in _rules()
        if "alert" in r
    ]
    for path in sorted(DASHBOARDS.glob("*.json")):
        dash = json.loads(path.read_text())
        title = dash["title"].split("/")[-1].strip()
        for panel in _panels(dash["panels"]):
            targets = panel.get("targets", [])
            exprs = [t.get("expr", "") for t in targets]
            if any(exprs):
                legends = [t.get("legendFormat", "") for t in targets]
                text = _expand("\n".join([*exprs, *legends]), recorded)
                found.append(Use(f"{title} / {panel.get('title', '')}", text))
    return found


def breaks_at(family: Family, use: Use) -> str | None:
    """The finest detail level at which ``use`` loses ``family`` or a label it reads."""
    for detail in DETAILS[1:]:
        plan = folding.plan(family, detail)
        dropped = family.dropped_labels(detail)
        if plan is None or any(re.search(rf"\b{name}\b", use.text) for name in dropped):
            return detail
    return None


def controls_table() -> str:
    """Per family used anywhere: who uses it, and the detail level that breaks it.

    A use breaks at the finest level that drops the family, or a label its expression,
    legend or annotations name. Denying a family (``metrics.deny``) breaks all its uses.
    """
    rows = ["| family | used by | breaks at detail |", "|---|---|---|"]
    everything = uses()
    seen: set[str] = set()
    for spec in REGISTRY:
        found = [(f, f.exposed) for f in spec.rendering.families]
        found += [
            (Family(a.name, "gauge", a.doc, a.labels, items=a.items), a.name)
            for a in spec.rendering.ages
        ]
        for family, name in found:
            if name not in seen:
                seen.add(name)
                rows += _control_row(family, name, everything)
    others = sorted(
        {f for u in everything for f in u.families if f.startswith("cleanrooms_")} - seen
    )
    for name in others:
        users = "; ".join(sorted(u.where for u in everything if name in u.families))
        rows.append(f"| `{name}` | {users} | never (not a collector's) |")
    return "\n".join(rows)


def _control_row(family: Family, name: str, everything: list[Use]) -> list[str]:
    users = [u for u in everything if name in u.families]
    if not users:
        return []
    levels = {u.where: breaks_at(family, u) for u in users}
    broken = sorted({level for level in levels.values() if level}, key=DETAILS.index)
    first = f"`{broken[0]}`" if broken else "never"
    return [f"| `{name}` | {'; '.join(sorted(levels))} | {first} |"]

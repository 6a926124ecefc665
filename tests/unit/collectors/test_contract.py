"""The collector contract: every collector comes with its tests, docs and fake, and keeps to it.

A collector is one module with a ``SPEC``; what derives from it is generated
(``tools.generate``). What cannot be generated is checked here: its unit and integration
test modules exist and test it, its families are documented, every operation it calls is
answered by moto or a fake store, and its families keep to the declared rules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from exporter.collectors import REGISTRY
from exporter.collectors.base import CollectorSpec, TargetData
from exporter.core.series import TARGET_LABELS, Family, OutputSettings
from exporter.demo.fake.service import store_classes
from exporter.metrics.declared import UndeclaredFamily, families
from tests.paths import ROOT

# What moto implements of what the collectors call; a fake store answers everything else.
MOTO = {
    ("cleanrooms", "ListCollaborations"),
    ("cleanrooms", "ListMemberships"),
    ("cleanrooms", "ListMembers"),
}
NAMES = [spec.name for spec in REGISTRY]
DOCS = (ROOT / "docs" / "collectors.md").read_text() + (ROOT / "docs" / "metrics.md").read_text()


def mentions(path: Path, spec: CollectorSpec[object]) -> bool:
    """Whether a test module imports the collector's module, or names it or its families."""
    words = (f"{spec.name}:", f"collector.{spec.name}", *(f.name for f in spec.rendering.families))
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and _imports(node, spec.name):
            return True
        if isinstance(node, ast.Constant) and any(word in str(node.value) for word in words):
            return True
    return False


def _imports(node: ast.ImportFrom, name: str) -> bool:
    if node.module == f"exporter.collectors.{name}":
        return True
    return node.module == "exporter.collectors" and any(a.name == name for a in node.names)


@pytest.mark.parametrize("spec", REGISTRY, ids=NAMES)
@pytest.mark.parametrize("kind", ["unit", "integration"])
def test_every_collector_has_a_test_module_that_tests_it(
    spec: CollectorSpec[object], kind: str
) -> None:
    path = ROOT / "tests" / kind / "collectors" / f"test_{spec.name}.py"
    assert path.exists(), f"{spec.name}: write {path.relative_to(ROOT)}"
    assert mentions(path, spec), f"{path.relative_to(ROOT)} does not test {spec.name}"


@pytest.mark.parametrize("spec", REGISTRY, ids=NAMES)
def test_every_collector_has_its_docs_row_and_every_family_is_documented(
    spec: CollectorSpec[object],
) -> None:
    assert f"| `{spec.name}` |" in DOCS, (
        f"{spec.name}: no row; run .venv/bin/python -m tools.generate"
    )
    names = [f.exposed for f in spec.rendering.families] + [a.name for a in spec.rendering.ages]
    assert [n for n in names if f"`{n}`" not in DOCS] == []


def test_every_operation_is_answered_by_moto_or_a_fake_store() -> None:
    routed = {route for store in store_classes() for route in store().routes()}
    called = {(s.polling.service, op) for s in REGISTRY for op in s.polling.operations}
    assert called - routed - MOTO == set()


def test_families_keep_to_the_rules() -> None:
    seen: dict[str, Family] = {}
    for spec in REGISTRY:
        assert spec.rendering.families, spec.name
        for family in spec.rendering.families:
            # One declaration per name: collectors that share a family share its object.
            assert seen.setdefault(family.name, family) is family, family.name
            assert not set(TARGET_LABELS) & {*family.labels, *family.info}, family.name
            assert family.doc.endswith("."), family.name
            assert family.name.startswith("cleanrooms_"), family.name


def test_a_sample_of_a_family_not_in_the_spec_is_a_bug_that_fails_loudly() -> None:
    (spec,) = [s for s in REGISTRY if s.name == "members"]
    stray = Family("cleanrooms_stray", "gauge", "Not declared.")

    def samples(item: TargetData[object], settings: OutputSettings, out: object) -> None:
        out.add(stray, (), 1.0)  # type: ignore[attr-defined]

    from dataclasses import replace

    broken = replace(spec, rendering=replace(spec.rendering, samples=samples))
    with pytest.raises(UndeclaredFamily, match="cleanrooms_stray"):
        families(broken, [TargetData(("1", "r"), None)], OutputSettings())

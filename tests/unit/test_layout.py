"""The layout holds: every import-linter contract is kept, each one bites, parts stay small."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exporter"
LINT = Path(sys.executable).parent / "lint-imports"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Each contract of pyproject.toml, and an import that must break it.
BREAKERS = {
    "layers": ("core/model.py", "import exporter.cli"),
    "acyclic": ("polling/sharding.py", "import exporter.polling.pool"),
    "collectors-no-aws": ("collectors/members.py", "import botocore.exceptions"),
    "scrape-no-aws": ("metrics/builtin.py", "import exporter.aws.error_codes"),
    "sdk-in-aws": ("polling/sharding.py", "import botocore.session"),
    # Indirectly: the poll side imports core, which would then load the client library.
    "poll-no-render": ("core/histogram.py", "import prometheus_client"),
    "only-demo-moto": ("polling/jobs.py", "import moto"),
    "only-demo-fake": ("cli/main.py", "import exporter.demo.fake.api"),
}


def lint(root: Path, contract: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(LINT), "--no-cache", "--config", str(root / "pyproject.toml")]
    if contract is not None:
        command += ["--contract", contract]
    # The copy goes first on the path, ahead of the installed (editable) package.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def contract_ids() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [c["id"] for c in config["tool"]["importlinter"]["contracts"]]


def test_every_contract_is_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(BREAKERS)} kept, 0 broken" in result.stdout


def test_every_contract_has_an_import_that_breaks_it() -> None:
    assert sorted(contract_ids()) == sorted(BREAKERS)


@pytest.mark.parametrize("contract", sorted(BREAKERS))
def test_each_contract_bites(contract: str, tmp_path: Path) -> None:
    shutil.copytree(PACKAGE, tmp_path / "exporter", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    module, line = BREAKERS[contract]
    with (tmp_path / "exporter" / module).open("a") as file:
        file.write(f"\n{line}  # a forbidden import\n")
    result = lint(tmp_path, contract)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "1 broken" in result.stdout


def test_only_the_wiring_lives_outside_the_parts() -> None:
    modules = {p.name for p in PACKAGE.glob("*.py")}
    assert modules == {"__init__.py", "__main__.py", "app.py"}


def test_every_part_says_what_it_owns_and_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "import" in doc, f"{init.relative_to(ROOT)} says nothing of its imports"


# Each part adds its own command-line flags in a module of this name: one role, one name.
SAME_ROLE = {"__init__", "__main__", "flags"}


def test_no_two_modules_share_a_name() -> None:
    names: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.stem not in SAME_ROLE:
            names.setdefault(path.stem, []).append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}


def test_the_poll_side_never_loads_the_client_library() -> None:
    # The registry imports collector modules by name, which import-linter cannot see.
    code = (
        "import sys, exporter.polling.worker, exporter.polling.pool, exporter.collectors\n"
        "assert exporter.collectors.REGISTRY\n"
        "print(sorted(m for m in sys.modules if m.startswith('prometheus_client')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_modules_and_functions_stay_small() -> None:
    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{where}: {text.count(chr(10))} lines")
        too_big += long_functions(text, where)
    assert too_big == []


def test_bench_and_test_functions_stay_small() -> None:
    too_big = []
    for folder in (ROOT / "bench", ROOT / "tests", ROOT / "tools"):
        for path in sorted(folder.rglob("*.py")):
            too_big += long_functions(path.read_text(), path.relative_to(ROOT))
    assert too_big == []


def long_functions(text: str, where: Path) -> list[str]:
    too_big = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                too_big.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    return too_big


def _bench_imports(path: Path) -> set[str]:
    """The bench modules ``path`` imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bench."):
            found.add((node.module or "").split(".")[1])
    return found


def test_bench_scripts_are_not_libraries_and_bench_has_no_cycle() -> None:
    bench = ROOT / "bench"
    modules = {p.stem: p for p in bench.glob("*.py") if p.stem != "__init__"}
    scripts = {n for n, p in modules.items() if '__name__ == "__main__"' in p.read_text()}
    imports = {n: _bench_imports(p) for n, p in modules.items()}
    assert {n: i & scripts for n, i in imports.items() if i & scripts} == {}

    def reaches(start: str, seen: frozenset[str]) -> bool:
        return any(n in seen or reaches(n, seen | {n}) for n in imports.get(start, ()))

    assert [n for n in modules if reaches(n, frozenset({n}))] == []

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
    "scrape-no-aws": ("metrics/families.py", "import exporter.aws.errors"),
    "poll-no-render": ("polling/sharding.py", "import prometheus_client"),
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


def test_modules_and_functions_stay_small() -> None:
    too_big = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            too_big.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_big.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert too_big == []

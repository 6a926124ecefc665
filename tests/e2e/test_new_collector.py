"""Adding a resource is four files: shown by adding one to a copy of the tree.

The four files of ``docs/development.md``'s checklist (the collector, its unit test, its
integration test, its fake store) go into a temporary copy. Before the generator runs,
CI's check fails and says what to run; the contract test fails while a test module is
missing; after it, the new collector's tests, the contract and every docs check pass, and
only the generated files changed besides the four.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.paths import ROOT

COLLECTOR = '''"""The training_datasets collector: Clean Rooms ML training datasets."""

from __future__ import annotations

from exporter.collectors import listings
from exporter.collectors.base import (
    Calls, CollectorSpec, PollContext, Polling, Rendering, TargetData,
)
from exporter.collectors.listings import Listed
from exporter.collectors.status_counts import StatusFamilies, StatusRules
from exporter.core.series import OutputSettings, Samples, gauge

KIND = listings.ListedKind(
    operation="ListTrainingDatasets",
    list_key="trainingDatasets",
    id_key="trainingDatasetArn",
    noun="training datasets",
    rules=StatusRules(("ACTIVE",)),
    counts_name="cleanrooms_ml_training_datasets",
    failed_name="",
)
FAMILIES = StatusFamilies(
    gauge("cleanrooms_ml_training_datasets", "Training datasets of the account.", "status")
)


def poll(context: PollContext) -> Listed:
    previous = context.previous if isinstance(context.previous, Listed) else None
    return listings.list_tally(context, KIND, {}, previous, "")[0]


def samples(item: TargetData[Listed], _: OutputSettings, out: Samples) -> None:
    FAMILIES.add(out, (), item.data.tally)


SPEC: CollectorSpec[Listed] = CollectorSpec(
    name="training_datasets",
    doc="Clean Rooms ML training datasets of the account by status.",
    order=990,
    polling=Polling(
        poll=poll,
        operations=(KIND.operation,),
        calls=Calls("⌈D / 100⌉, at least 1 (D = training datasets)", per_target=1),
        service="cleanroomsml",
    ),
    rendering=Rendering(families=FAMILIES.families, samples=samples),
)
'''

STORE = '''"""The fake's training datasets, per account and region."""

from __future__ import annotations

import uuid
from typing import Any

from exporter.demo.fake.api import Handler, Request, Route, Store, paginate, register


@register
class TrainingDatasetsStore(Store):
    name = "training_datasets"

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def routes(self) -> dict[Route, Handler]:
        return {("cleanroomsml", "ListTrainingDatasets"): self._list}

    def add(self, account_id: str, region: str, created: float) -> None:
        arn = f"arn:aws:cleanrooms-ml:{region}:{account_id}:training-dataset/{uuid.uuid4()}"
        summary = {
            "trainingDatasetArn": arn,
            "name": "d",
            "status": "ACTIVE",
            "createTime": created,
            "updateTime": created,
        }
        with self.lock:
            self.items.setdefault((account_id, region), []).append(summary)

    def _list(self, request: Request) -> dict[str, Any]:
        with self.lock:
            found = list(self.items.get((request.account_id, request.region), []))
        return paginate(found, request.query, "trainingDatasets")
'''

UNIT = """from exporter.collectors import training_datasets
from exporter.collectors.status_counts import Item, tally


def test_counts_by_status() -> None:
    found = tally(training_datasets.KIND.rules, [Item("a", "ACTIVE", 1.0)], None)
    assert dict(found.counts) == {"ACTIVE": 1}
"""

INTEGRATION = """import time

from tests.helpers import config, value


def test_listed_and_counted(proxy, fake, run_exporter, new_account) -> None:
    a = new_account()
    fake.training_datasets.add(a, "us-east-1", time.time() - 60)
    fake.training_datasets.add(a, "us-east-1", time.time() - 30)
    on = "collectors: {training_datasets: {enabled: true}}"
    exporter = run_exporter(proxy.url, config(a, on))
    where = {"account_id": a, "region": "us-east-1", "status": "ACTIVE"}
    assert value(exporter, "cleanrooms_ml_training_datasets", **where) == 2
    assert len(proxy.calls("ListTrainingDatasets", a)) == 1
"""

FILES = {
    "exporter/collectors/training_datasets.py": COLLECTOR,
    "exporter/demo/fake/training_datasets_store.py": STORE,
    "tests/unit/collectors/test_training_datasets.py": UNIT,
    "tests/integration/collectors/test_training_datasets.py": INTEGRATION,
}
# The generator reads the dashboards and rules too: what the series budget's uses are.
COPIED = (
    "exporter",
    "tests",
    "tools",
    "docs",
    "deploy",
    "prometheus",
    "grafana",
    "README.md",
    "config.example.yaml",
)
GENERATED = {
    "README.md",
    "docs/collectors.md",
    "docs/metrics.md",
    "config.example.yaml",
    "deploy/helm/cleanrooms-exporter/values.yaml",
}


def copy_tree(to: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.png", "test-artifacts")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, to / name, ignore=ignore)
        else:
            shutil.copy(source, to / name)
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def run(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy ahead of the installed package
    return subprocess.run(
        [sys.executable, *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def pytest(tree: Path, *tests: str) -> subprocess.CompletedProcess[str]:
    return run(tree, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *tests)


def changed(tree: Path) -> set[str]:
    """Files of the copy that differ from the repository's, or are new."""
    found = set()
    for path in tree.rglob("*"):
        relative = path.relative_to(tree).as_posix()
        if path.is_file() and "__pycache__" not in relative:
            original = ROOT / relative
            if not original.exists() or not filecmp.cmp(path, original, shallow=False):
                found.add(relative)
    return found


def test_a_new_collector_is_four_files_and_the_rest_is_generated(tmp_path: Path) -> None:
    copy_tree(tmp_path)
    for name, text in FILES.items():
        if "unit" not in name:
            (tmp_path / name).write_text(text)
    contract = "tests/unit/collectors/test_contract.py"
    missing = pytest(tmp_path, contract, "-k", "training_datasets")
    assert missing.returncode == 1, missing.stdout
    assert "write tests/unit/collectors/test_training_datasets.py" in missing.stdout
    (tmp_path / "tests/unit/collectors/test_training_datasets.py").write_text(UNIT)

    stale = run(tmp_path, "-m", "tools.generate", "--check")
    assert stale.returncode == 1
    assert "README.md: out of date; run .venv/bin/python -m tools.generate" in stale.stderr
    assert run(tmp_path, "-m", "tools.generate").returncode == 0

    passed = pytest(
        tmp_path,
        contract,
        "tests/docs/test_generated.py",
        "tests/docs/test_iam_docs.py",
        *(name for name in FILES if name.startswith("tests/")),
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert changed(tmp_path) == set(FILES) | GENERATED
    assert "cleanrooms-ml:ListTrainingDatasets" in (tmp_path / "README.md").read_text()

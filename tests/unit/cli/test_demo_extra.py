"""``--demo`` where the demo extra is not installed (the default container image)."""

from __future__ import annotations

import sys

import pytest

from exporter.cli.main import main


def test_demo_without_moto_says_how_to_get_it_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # as if not installed: imports fail
    assert main(["--demo", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install 'cleanrooms-exporter[demo]'" in err
    assert "--build-arg EXTRAS=auth,demo" in err

"""The command line a first user meets: --help, exact flags, and what --config.check says."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_gives_every_flag_a_text_and_the_log_defaults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--log.level {debug,info,warn,error}" in text
    assert "(default info)" in text
    assert "(default logfmt)" in text
    assert "--check.aws" in text


def test_an_abbreviated_flag_is_not_taken_for_the_whole_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--config.ch"])
    assert raised.value.code == 2
    assert "unrecognized arguments: --config.ch" in capsys.readouterr().err


def test_counts_have_their_plural_only_when_more_than_one(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("accounts: [{role_arn: 'arn:aws:iam::111111111111:role/R'}]\n")
    code, out, _ = run(capsys, "--config.file", str(path), "--config.check")
    assert code == 0
    assert "configuration valid: 1 account, 1 target\n" in out
    path.write_text("regions: [us-east-1, eu-west-2]\n")
    assert (
        "configuration valid: 1 account, 2 targets\n"
        in run(capsys, "--config.file", str(path), "--config.check")[1]
    )


def test_a_profile_missing_from_the_shared_files_is_caught_offline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "aws-config"
    shared.write_text("[profile present]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))
    path = tmp_path / "config.yaml"
    path.write_text("accounts: [{profile: present}, {profile: analytics}]\n")
    code, out, err = run(capsys, "--config.file", str(path), "--config.check")
    assert code == 2
    assert out == ""
    assert f"invalid configuration in {path}" in err
    assert "accounts[1].profile: analytics is in neither the shared config file" in err
    assert "accounts[0]" not in err


def test_the_demo_check_says_it_runs_the_demo_not_the_default_chain(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--demo", "--config.check")
    assert code == 0
    assert "configuration valid: 3 accounts, 5 targets" in out
    assert "note: --demo: the demo's simulated accounts; no AWS account is read" in out
    assert "default credential chain" not in out


def test_the_demo_poll_interval_has_the_config_files_minimum(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "--demo", "--demo.poll-interval", "0s", "--config.check")
    assert code == 2
    assert "--demo.poll-interval: must be at least 100ms" in err

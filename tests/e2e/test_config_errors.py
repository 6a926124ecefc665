"""What a new user sees for each broken config file: the file named, and where known, the line.

Each case runs the real command line (`--config.check`) on a file written for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# (file content, what stderr must say besides the file name)
BROKEN: dict[str, tuple[bytes, list[str]]] = {
    "yaml syntax error": (
        b"poll_interval: 5m\naccounts:\n  - id: '111111111111'\n    name: prod: x\n",
        ["line 4, column 15: yaml: mapping values are not allowed here"],
    ),
    "unclosed flow sequence": (
        b"regions: [us-east-1\n",
        [
            "line 2, column 1: yaml: expected ',' or ']', but got '<stream end>'"
            " (while parsing a flow sequence at line 1)"
        ],
    ),
    "tab indentation": (
        b"aws:\n\tretry_mode: standard\n",
        ["line 2, column 1: yaml: found character '\\t' that cannot start any token"],
    ),
    "not UTF-8 (Latin-1 name)": (
        "accounts:\n  - name: caf\u00e9\n".encode("latin-1"),
        ["line 2, column 14: not UTF-8 text (byte 0xe9)"],
    ),
    "unset environment variable": (
        b"accounts:\n  - role_arn: arn:aws:iam::111111111111:role/R\n"
        b"    external_id: ${CLEANROOMS_TEST_UNSET}\n",
        ["accounts[0].external_id: environment variable CLEANROOMS_TEST_UNSET is not set"],
    ),
    "top level a list": (b"- accounts\n", ["top level: must be a mapping"]),
    "unknown key and bad value": (
        b"poll_intervall: 5m\nconcurrency: 0\n",
        [
            "line 1: poll_intervall: unknown key, did you mean poll_interval?",
            "concurrency: must be greater than zero",
        ],
    ),
    "misspelt account key": (
        b"accounts:\n  - id: '111111111111'\n    rolearn: arn:aws:iam::111111111111:role/R\n",
        ["line 3: accounts[0].rolearn: unknown key, did you mean role_arn?"],
    ),
    "quoted 11-digit account id": (
        b"accounts:\n  - id: '12345678901'\n",
        ["accounts[0].id: must be 12 digits, got 11 ('12345678901')"],
    ),
    "unquoted account id": (
        b"accounts:\n  - id: 123456789012\n",
        [
            "accounts[0].id: must be quoted: write '123456789012' (unquoted, YAML reads a "
            "number, which drops leading zeros)"
        ],
    ),
    "one-character external id": (
        b"accounts:\n  - role_arn: arn:aws:iam::111111111111:role/R\n    external_id: x\n",
        [
            "accounts[0].external_id: must be 2 to 1,224 characters (AWS's rule for "
            "ExternalId), got 1"
        ],
    ),
}


def in_order(expected: list[str], output: str) -> bool:
    """Every expected line is in the output, in this order (other lines may come between)."""
    lines = iter(output.splitlines())
    return all(any(line == wanted for line in lines) for wanted in expected)


def test_in_order_can_fail() -> None:
    assert in_order(["a", "c"], "a\nb\nc\n")
    assert not in_order(["c", "a"], "a\nb\nc\n")
    assert not in_order(["a", "d"], "a\nb\nc\n")


def check(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLEANROOMS_TEST_UNSET"}
    return subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(path), "--config.check", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("case", BROKEN)
def test_broken_config_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    content, expected = BROKEN[case]
    path = tmp_path / "my-config.yaml"
    path.write_bytes(content)
    result = check(path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"cleanrooms-exporter: invalid configuration in {path}:\n")
    for problem in expected:
        assert f"\n  {problem}\n" in result.stderr + "\n", result.stderr
    assert "Traceback" not in result.stderr
    assert "<unicode string>" not in result.stderr
    assert result.stdout == ""


def test_missing_file_and_directory_name_the_path(tmp_path: Path) -> None:
    missing = check(tmp_path / "absent.yaml")
    assert missing.returncode == 2
    assert f"invalid configuration in {tmp_path / 'absent.yaml'}:" in missing.stderr
    assert "cannot read: No such file or directory" in missing.stderr
    directory = check(tmp_path)
    assert directory.returncode == 2
    assert f"invalid configuration in {tmp_path}:\n  cannot read: " in directory.stderr


def test_bad_shard_flags_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("accounts: [{role_arn: 'arn:aws:iam::111111111111:role/R'}]\n")
    result = check(path, "--shard.count", "2", "--shard.index", "5")
    assert result.returncode == 2
    assert f"invalid configuration in {path}:\n  sharding: " in result.stderr


def test_web_config_errors_name_their_file(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text("{}\n")
    web = tmp_path / "web.yml"
    web.write_text("basic_auth_users:\n  alice: [\n")
    result = check(config, "--web.config.file", str(web))
    assert result.returncode == 2
    assert f"invalid configuration in {web}:\n  line 3, column 1: yaml: " in result.stderr


def test_both_files_bad_gives_the_problems_of_each_under_its_name(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("poll_intervall: 5m\naccounts:\n  - id: '12345678901'\n")
    web = tmp_path / "web.yml"
    web.write_text("tls_server_confg: {}\nbasic_auth_users:\n  alice: not-a-hash\n")
    result = check(config, "--web.config.file", str(web))
    assert result.returncode == 2
    assert result.stderr == (
        f"cleanrooms-exporter: invalid configuration in {config}:\n"
        "  line 1: poll_intervall: unknown key, did you mean poll_interval?\n"
        "  accounts[0].id: must be 12 digits, got 11 ('12345678901')\n"
        f"invalid configuration in {web}:\n"
        "  line 1: tls_server_confg: unknown key, did you mean tls_server_config?\n"
        "  basic_auth_users.alice: not a bcrypt hash (make one with htpasswd -nBC 10 '')\n"
    )


def test_a_bad_web_config_does_not_hide_what_the_file_alone_cannot_show(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("accounts:\n  - profile: no-such-profile\n")
    web = tmp_path / "web.yml"
    web.write_text("surprise: 1\n")
    result = check(config, "--web.config.file", str(web))
    assert result.returncode == 2
    assert f"invalid configuration in {config}:\n  accounts[0].profile: no-such-profile " in (
        result.stderr
    )
    assert f"invalid configuration in {web}:\n  line 1: surprise: unknown key\n" in result.stderr


def test_empty_file_is_valid_but_says_it_polls_defaults(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration valid: 1 account, 1 target\n")
    assert in_order(
        [
            "  accounts[0] (id from sts:GetCallerIdentity) via default credential chain: us-east-1",
            "note: the file lists no accounts, so by default the exporter polls the account of "
            "the default credential chain (environment, shared config, container or instance "
            "role)",
            "note: the file sets no regions: using us-east-1 (AWS_REGION, else "
            "AWS_DEFAULT_REGION, else us-east-1)",
        ],
        result.stdout,
    )


def test_a_full_file_lists_each_account_and_no_default_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "aws-config"
    shared.write_text("[profile analytics]\nregion = eu-west-2\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(shared))  # the profile exists
    path = tmp_path / "full.yaml"
    path.write_text(
        "regions: [eu-west-2]\naccounts:\n"
        "  - {role_arn: 'arn:aws:iam::111111111111:role/R', name: prod, regions: [us-east-1]}\n"
        "  - {profile: analytics}\n"
    )
    result = check(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration valid: 2 accounts, 2 targets\n")
    assert "note:" not in result.stdout
    assert in_order(
        [
            "  accounts[0] 111111111111 'prod' via role arn:aws:iam::111111111111:role/R: "
            "us-east-1",
            "  accounts[1] (id from sts:GetCallerIdentity) via profile analytics: eu-west-2",
        ],
        result.stdout,
    )


def test_no_config_file_says_where_its_region_comes_from() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AWS_REGION": "eu-west-2"},
    )
    assert result.returncode == 0, result.stderr
    assert "note: no --config.file: polling the default credential chain's own account in " in (
        result.stdout
    )
    assert "eu-west-2 (AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1)" in result.stdout

"""Every command the README and config.example.yaml show runs as written.

The commands are read from the files themselves, so a changed command is tested as
changed, and a new one fails `test_every_documented_command_is_covered` until a test
here runs it. Commands that serve on the documented port run in a private network
namespace (tests/netns_run.py), so they neither collide with anything on the machine
nor reach anything outside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.paths import ROOT

README = ROOT / "README.md"
EXAMPLE = ROOT / "config.example.yaml"
VENV_BIN = Path(sys.executable).parent


def readme_blocks() -> list[list[str]]:
    """The commands of each ```sh block of the README, one string per command."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    return [[c.strip() for c in b.replace("\\\n", " ").splitlines() if c.strip()] for b in blocks]


def readme_commands() -> list[str]:
    return [c for block in readme_blocks() for c in block]


def inline_commands() -> list[str]:
    """Commands the README gives inline, in `code`: the rule checks and the image build."""
    text = " ".join(README.read_text().split())
    return re.findall(r"Check the rules with `([^`]+)`", text) + re.findall(
        r"`(docker build [^`]+)`", text
    )


def example_commands() -> list[str]:
    """The indented commands in config.example.yaml's header comment."""
    header = EXAMPLE.read_text().split("\n\n", 1)[0].split("\npoll_interval:", 1)[0]
    return re.findall(r"^#   (.+)$", header, re.M)


DEMO = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[demo]' "
    "&& .venv/bin/cleanrooms-exporter --demo"
)
TESTS = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test,demo]' && .venv/bin/pytest"
COMPOSE = "docker compose -f examples/demo-stack/compose.yaml up --build"
DOCKER_BUILD = "docker build -t cleanrooms-exporter ."
COPY = "cp examples/one-account.yaml config.yaml"
CHECK = re.compile(
    r"^CLEANROOMS_EXTERNAL_ID=\S+ \.venv/bin/cleanrooms-exporter "
    r"--config\.file config\.yaml --config\.check --check\.aws$"
)
RUN = re.compile(
    r"^CLEANROOMS_EXTERNAL_ID=\S+ \.venv/bin/cleanrooms-exporter --config\.file config\.yaml$"
)
EXAMPLE_CHECK = (
    "CLEANROOMS_EXTERNAL_ID=example cleanrooms-exporter --config.file config.example.yaml "
    "--config.check"
)


def test_every_documented_command_is_covered() -> None:
    covered = 0
    for command in readme_commands() + inline_commands():
        assert (
            command in {DEMO, TESTS, COMPOSE, DOCKER_BUILD, COPY}
            or CHECK.match(command)
            or RUN.match(command)
            or command.startswith("promtool ")
        ), f"no test runs the README command {command!r}"
        covered += 1
    assert covered >= 7
    assert example_commands() == [EXAMPLE_CHECK]


def test_readme_test_command_is_what_ci_runs_word_for_word() -> None:
    assert TESTS in readme_commands()
    assert TESTS in (ROOT / ".ci" / "run").read_text().splitlines()


def test_example_config_check_passes_as_written() -> None:
    result = subprocess.run(
        EXAMPLE_CHECK,
        shell=True,
        executable="/bin/bash",
        cwd=ROOT,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("configuration valid: 2 accounts, 3 targets")


def test_readme_rule_checks_pass_as_written() -> None:
    require_tool("promtool")
    (command,) = [c for c in inline_commands() if c.startswith("promtool ")]
    result = subprocess.run(
        command,
        shell=True,
        executable="/bin/bash",
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_container_and_compose_commands_are_checked_elsewhere() -> None:
    # tests/deploy/test_container.py builds the Dockerfile and runs the image (and the
    # compose file's exporter service); the compose file passes the Compose schema
    # (tests/deploy/test_demo_stack.py). This test keeps those commands pointing at real files.
    assert COMPOSE in readme_commands()
    assert (ROOT / "examples" / "demo-stack" / "compose.yaml").is_file()
    assert DOCKER_BUILD in inline_commands()
    assert (ROOT / "Dockerfile").is_file()


def netns_run(spec: dict[str, object]) -> dict[str, object]:
    """Run tests/netns_run.py with SPEC in a new network namespace (needs root, as in CI)."""
    unshare = require_tool("unshare")
    require_tool("ip")
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        message = f"cannot create a network namespace: {probe.stderr.decode().strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [unshare, "--net", sys.executable, str(ROOT / "tests" / "netns_run.py"), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    parsed: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return parsed


def venv_dir(tmp_path: Path) -> Path:
    """A directory whose .venv is the one running the tests, as the README's set-up leaves it."""
    (tmp_path / ".venv").symlink_to(VENV_BIN.parent)
    return tmp_path


def test_demo_command_serves_the_demo_as_written(tmp_path: Path) -> None:
    # The set-up half of the demo command is the test command's, which CI runs word for
    # word; the rest runs here exactly as written.
    setup, sep, run = DEMO.rpartition(" && ")
    assert sep
    assert setup.replace("[demo]", "[test,demo]") in TESTS
    assert DEMO in readme_commands()
    result = netns_run(
        {
            "command": run,
            "cwd": str(venv_dir(tmp_path)),
            "env": {},
            "moto": False,
            "paths": ["/-/ready", "/metrics", "/"],
        }
    )
    bodies = result["bodies"]
    assert isinstance(bodies, dict)
    assert bodies["/-/ready"][0] == 200, result["output"]
    assert (
        'cleanrooms_target_up{account_id="111111111111",region="us-east-1"} 1.0'
        in (bodies["/metrics"][1])
    )
    assert "Pending invitations, untrusted first, then oldest" in bodies["/"][1]
    assert result["returncode"] == 0, result["output"]


def run_step(command: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        shell=True,
        executable="/bin/bash",
        cwd=work,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def up_series(metrics: str) -> dict[tuple[str, str], str]:
    found = re.findall(
        r'^cleanrooms_target_up\{account_id="([^"]+)",region="([\w-]+)"\} (\S+)$', metrics, re.M
    )
    return {(account, region): value for account, region, value in found}


@pytest.fixture
def example_account_empty() -> None:
    """The README's example account as a new one: the demo (in-process, in another test)
    seeds moto with collaborations of the same account id."""
    from moto.cleanrooms.models import cleanrooms_backends

    for backend in cleanrooms_backends["111111111111"].values():
        backend.reset()


@pytest.mark.usefixtures("example_account_empty")
def test_real_account_steps_run_as_written(tmp_path: Path, moto_server: str) -> None:
    """Step 3 of "Pointing it at real accounts", against moto standing in for AWS."""
    block = next(b for b in readme_blocks() if COPY in b)
    copy, check, run = block
    work = venv_dir(tmp_path)
    (work / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "one-account.yaml", work / "examples")
    env = {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_server}
    assert run_step(copy, work, env).returncode == 0
    done = run_step(check, work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration valid: 1 account, 1 target" in done.stdout
    assert "111111111111 (prod) us-east-1 members: ok" in done.stdout
    assert "preflight: 4 of 4 checks ok" in done.stdout
    served = netns_run(
        {
            "command": run,
            "cwd": str(work),
            "env": {**env, "AWS_ENDPOINT_URL": "{moto}"},
            "moto": True,
            "paths": ["/metrics"],
        }
    )
    bodies = served["bodies"]
    assert isinstance(bodies, dict)
    assert up_series(bodies["/metrics"][1]) == {("111111111111", "us-east-1"): "1.0"}
    assert served["returncode"] == 0, served["output"]


@pytest.mark.usefixtures("example_account_empty")
def test_real_account_steps_with_one_account_denied(tmp_path: Path, moto_server: str) -> None:
    """The same steps with a second account whose credentials cannot be had."""
    _, check, run = next(b for b in readme_blocks() if COPY in b)
    work = venv_dir(tmp_path)
    one = (ROOT / "examples" / "one-account.yaml").read_text()
    head, _, collectors = one.partition("collectors:")
    (work / "config.yaml").write_text(
        f"{head}  - profile: broken\n    name: broken\ncollectors:{collectors}"
    )
    aws_config = work / "aws-config"
    aws_config.write_text(
        "[profile broken]\nrole_arn = arn:aws:iam::333333333333:role/X\nsource_profile = gone\n"
    )
    env = {"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": str(aws_config)}
    done = run_step(check, work, {**env, "AWS_ENDPOINT_URL": moto_server})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "111111111111 (prod) us-east-1 collaborations: ok" in done.stdout
    assert (
        "accounts[1] us-east-1 collaborations: FAILED: GetCallerIdentity: InvalidConfigError"
    ) in done.stdout
    assert "preflight: 4 of 8 checks ok" in done.stdout
    served = netns_run(
        {
            "command": run,
            "cwd": str(work),
            "env": {**env, "AWS_ENDPOINT_URL": "{moto}"},
            "moto": True,
            "paths": ["/metrics"],
        }
    )
    bodies = served["bodies"]
    assert isinstance(bodies, dict)
    assert up_series(bodies["/metrics"][1]) == {
        ("111111111111", "us-east-1"): "1.0",
        ("accounts[1]", "us-east-1"): "0.0",
    }, served["output"]
    assert "accounts[1] (profile broken): cannot resolve the account id" in served["output"]
    assert served["returncode"] == 0, served["output"]

"""The images' size and contents, and every documented `docker run` line, run as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.deploy.conftest import Images
from tests.deploy.container import BASE, STOP_SECONDS, Containers, Engine, get, wait_until
from tests.paths import ROOT

pytestmark = pytest.mark.timeout(900)  # the first test to run builds the images

SIZES = ROOT / "docs" / "container.md"
MB = 1_000_000  # as `docker images` and `podman history` count
NO_METADATA = "--env=AWS_EC2_METADATA_DISABLED=true"  # never the host's instance role


def documented_sizes() -> dict[str, tuple[float, float]]:
    """docs/container.md's size table: image -> (MB over the base, budget in MB)."""
    rows = re.findall(
        r"^\| (default|demo) \|[^\n]*\| ([\d.]+) MB \| ([\d.]+) MB \|$", SIZES.read_text(), re.M
    )
    return {name: (float(measured), float(budget)) for name, measured, budget in rows}


def test_image_sizes_keep_their_budget(engine: Engine, images: Images) -> None:
    documented = documented_sizes()
    assert set(documented) == {"default", "demo"}
    base = engine.image_size(BASE)
    for name, image in (("default", images.default), ("demo", images.demo)):
        over_base = (engine.image_size(image) - base) / MB
        measured, budget = documented[name]
        assert over_base <= budget, f"{name}: {over_base:.1f} MB over the base, budget {budget}"
        # The documented measurement stays true, within what a dependency's release moves.
        assert abs(over_base - measured) <= 0.15 * measured, f"{name}: now {over_base:.1f} MB"


# What an image holds, asked of its own Python as root (the image's user cannot read /root).
PROBE = """
import importlib.util, json, os, shutil
places = ("/tmp", "/root", "/src", "/dist", "/usr/local")
wheels = [f for p in places for d, _, fs in os.walk(p) for f in fs if f.endswith(".whl")]
main = importlib.util.find_spec("exporter.cli.main")
print(json.dumps({
    "moto": importlib.util.find_spec("moto") is not None,
    "build tools": [t for t in ("gcc", "cc", "make", "git") if shutil.which(t)]
    + [m for m in ("build", "hatchling") if importlib.util.find_spec(m)],
    "wheels": wheels,
    "caches": [p for p in ("/root/.cache", "/tmp/pip") if os.path.exists(p)],
    "compiled": os.path.exists(importlib.util.cache_from_source(main.origin)),
}))
"""


@pytest.mark.parametrize("name", ["default", "demo"])
def test_image_is_lean(name: str, engine: Engine, images: Images) -> None:
    image = images.default if name == "default" else images.demo
    options = ["--user=0", "--entrypoint=python"]
    result = engine.run(image, "-c", PROBE, options=options)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found == {
        "moto": name == "demo",  # the demo's dependencies in the demo image only
        "build tools": [],
        "wheels": [],
        "caches": [],
        # Byte code compiled at build time: with a read-only root file system, Python
        # could not write it, and would compile every module at every start.
        "compiled": True,
    }


OPTIONS_WITH_VALUES = {"-p", "-v", "-e", "--publish", "--volume", "--env", "--name"}


def documented_runs() -> dict[str, str]:
    """Every `docker run` line of a shell block of the README and docs/, by page and number."""
    found: dict[str, str] = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"```sh\n(.*?)```", page.read_text(), re.S)
        lines = [line for block in blocks for line in block.replace("\\\n", " ").splitlines()]
        runs = [" ".join(line.split()) for line in lines if line.strip().startswith("docker run")]
        found |= {f"{page.name}-{n}": run for n, run in enumerate(runs, 1)}
    return found


def as_run_here(command: str, engine: Engine, image: str, work: Path) -> list[str]:
    """The documented command with this engine, the image built here, and a free host port."""
    words = [word.replace("$PWD", str(work)) for word in shlex.split(command)]
    assert words[:2] == ["docker", "run"], command
    at = 2
    while words[at].startswith("-"):  # the options, up to the image
        if words[at] in {"-p", "--publish"}:
            words[at + 1] = "127.0.0.1::" + words[at + 1].rsplit(":", 1)[1]
        at += 2 if words[at] in OPTIONS_WITH_VALUES else 1
    name = words[at].rsplit("/", 1)[-1].split(":")[0]
    assert name == "cleanrooms-exporter", f"{command}: not this image"
    words[at] = image
    detached = [] if "--rm" in words else ["-d"]
    return [engine.path, "run", *detached, NO_METADATA, *words[2:]]


DOCUMENTED_RUNS = documented_runs()


@pytest.mark.parametrize("command", DOCUMENTED_RUNS.values(), ids=DOCUMENTED_RUNS.keys())
def test_documented_run_command_works_as_written(
    command: str, engine: Engine, images: Images, containers: Containers, tmp_path: Path
) -> None:
    # Your config.yaml in the current directory: here the annotated example.
    shutil.copy(ROOT / "config.example.yaml", tmp_path / "config.yaml")
    (tmp_path / "config.yaml").chmod(0o644)
    # What `-e NAME` passes on: no AWS credentials (nothing may reach AWS from a test).
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"CLEANROOMS_EXTERNAL_ID": "example", "AWS_REGION": "eu-west-2"}
    words = as_run_here(command, engine, images.default, tmp_path)
    result = engine(*words[1:], env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    if "--rm" in words:  # a one-shot: the check of a config
        assert result.stdout.startswith("configuration valid: 2 accounts"), result.stdout
        return
    container = containers.adopt(result.stdout.strip())
    port = container.host_port(19431)
    account = "111111111111" if "config.yaml" in command else "accounts[0]"
    listed = lambda: f'up{{account_id="{account}",region="eu-west-2"}}' in get(port, "/metrics")[1]  # noqa: E731
    wait_until(listed, 60, f"account {account} in /metrics", container)
    code, took = container.stop()
    assert (code, took < STOP_SECONDS) == (0, True), f"exit {code} after {took:.2f} s"

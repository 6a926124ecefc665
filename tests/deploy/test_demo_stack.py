"""examples/demo-stack: the compose file is valid Compose and everything it names exists.

No container runtime runs in CI, so the file is checked the way `docker compose config`
would see it: against the Compose Specification's JSON schema (vendored in
tests/schemas), then its mounts, build, and the wiring between its services.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import subprocess
import tomllib
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml

from exporter.cli.main import parse_args
from tests.conftest import require_tool
from tests.paths import ROOT

STACK = ROOT / "examples" / "demo-stack"
COMPOSE = STACK / "compose.yaml"
SCHEMA = ROOT / "tests" / "schemas" / "compose-spec.json"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def validate(document: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(document)


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(source on the host, target in the container) of each bind mount, short syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        assert source.startswith("."), f"{volume}: only relative bind mounts in the demo"
        mounts.append(((STACK / source).resolve(), target))
    return mounts


def test_compose_file_matches_the_compose_specification() -> None:
    validate(compose())


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: c["services"]["grafana"].update(volume=["x:/y"]),  # misspelt key
        lambda c: c["services"]["prometheus"].update(ports={"9090": "9090"}),  # wrong type
        lambda c: c["services"]["exporter"]["build"].update(contxt="../.."),
        lambda c: c.update(service={}),
    ],
)
def test_schema_rejects_a_broken_compose_file(damage) -> None:
    broken = copy.deepcopy(compose())
    damage(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_every_mounted_file_exists_as_the_kind_the_target_expects() -> None:
    services = compose()["services"]
    mounts = [m for service in services.values() for m in bind_mounts(service)]
    assert len(mounts) >= 5
    for source, target in mounts:
        assert source.exists(), f"{source} (mounted at {target}) does not exist"
        is_file = PurePosixPath(target).suffix in {".yml", ".yaml", ".json"}
        assert source.is_file() == is_file, f"{source} -> {target}"


def test_the_exporter_image_is_built_with_the_demo_extra() -> None:
    exporter = compose()["services"]["exporter"]
    context = (STACK / exporter["build"]["context"]).resolve()
    assert context == ROOT
    dockerfile = (context / exporter["build"].get("dockerfile", "Dockerfile")).read_text()
    extras = exporter["build"]["args"]["EXTRAS"].split(",")
    assert re.search(r"^ARG EXTRAS=", dockerfile, re.M)
    assert "[${EXTRAS}]" in dockerfile
    defined = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert "demo" in extras
    assert set(extras) <= set(defined)
    args = parse_args(exporter["command"])
    assert args.demo
    assert args.listen == ":19431"
    assert "19431:19431" in exporter["ports"]


def test_prometheus_scrapes_the_exporter_and_loads_every_rule_file() -> None:
    services = compose()["services"]
    config = yaml.safe_load((STACK / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    alerts = (ROOT / "prometheus" / "alerts.yaml").read_text()
    assert {job["job_name"]} == set(re.findall(r'up\{job="([^"]+)"\}', alerts))
    (static,) = job["static_configs"]
    host, port = static["targets"][0].split(":")
    assert host in services
    assert f"--web.listen-address=:{port}" in services[host]["command"]
    mounted = {target: source for source, target in bind_mounts(services["prometheus"])}
    loaded = {
        target for pattern in config["rule_files"] for target in fnmatch.filter(mounted, pattern)
    }
    expected = {ROOT / "prometheus" / "rules.yaml", ROOT / "prometheus" / "alerts.yaml"}
    assert {mounted[target] for target in loaded} == expected


def test_prometheus_config_and_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = require_tool("promtool")
    services = compose()["services"]
    mounts = bind_mounts(services["prometheus"])
    config = yaml.safe_load((STACK / "prometheus.yml").read_text())
    # The container's paths, laid out under tmp_path.
    rules = [str(source) for source, target in mounts if target.startswith("/etc/prometheus/rules")]
    config["rule_files"] = rules
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(local)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_grafana_reaches_prometheus_and_opens_on_the_overview() -> None:
    services = compose()["services"]
    grafana = services["grafana"]
    env = grafana["environment"]
    match = re.fullmatch(r"http://([\w-]+):(\d+)", env["PROMETHEUS_URL"])
    assert match
    assert match[1] in services
    assert f"{match[2]}:{match[2]}" in services[match[1]]["ports"]
    mounted = {target: source for source, target in bind_mounts(grafana)}
    assert mounted["/etc/grafana/provisioning"] == ROOT / "grafana" / "provisioning"
    provider = yaml.safe_load(
        (ROOT / "grafana" / "provisioning" / "dashboards" / "cleanrooms.yaml").read_text()
    )["providers"][0]
    dashboards = provider["options"]["path"]
    assert mounted[dashboards] == ROOT / "grafana" / "dashboards"
    home = PurePosixPath(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert str(home.parent) == dashboards
    assert (ROOT / "grafana" / "dashboards" / home.name).is_file()
    datasource = (ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    assert "${PROMETHEUS_URL}" in datasource

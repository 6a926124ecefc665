"""The Kubernetes manifests in deploy/kubernetes: schemas, wiring, and agreement with the repo.

Core objects are checked against the Kubernetes OpenAPI schemas bundled with
kubernetes-validate (strict: unknown fields fail); the ServiceMonitor and the
PrometheusRule against models generated from the Prometheus Operator CRDs. Both
run offline. Rendering with kustomize needs `kubectl` (or `kustomize`) on PATH.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pydantic
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring

import exporter
from tests.deploy.container import STOP_SECONDS
from tests.paths import ROOT

DEPLOY = ROOT / "deploy" / "kubernetes"
RULE_FILES = (ROOT / "prometheus" / "rules.yaml", ROOT / "prometheus" / "alerts.yaml")
DOCS = ROOT / "docs" / "kubernetes.md"
# The oldest and the newest Kubernetes minor the manifests are held to; the
# newest is the latest whose schemas kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31.0", "1.37.0")
OPERATOR_MODELS: dict[str, type[pydantic.BaseModel]] = {
    "ServiceMonitor": monitoring.ServiceMonitor,
    "PrometheusRule": monitoring.PrometheusRule,
}
CONTAINER = "exporter"

Manifest = dict[str, Any]


@functools.cache
def kustomization() -> Manifest:
    loaded: Manifest = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return loaded


@functools.cache
def manifests() -> dict[str, Manifest]:
    """Each resource file the kustomization lists, by file name (one object per file).

    Parsed once per session; a test that changes an object works on a deep copy.
    """
    return {
        name: yaml.safe_load((DEPLOY / name).read_text()) for name in kustomization()["resources"]
    }


def one(kind: str) -> Manifest:
    found = [m for m in manifests().values() if m["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def container(statefulset: Manifest) -> Manifest:
    containers = statefulset["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == CONTAINER)


def env_values(c: Manifest) -> dict[str, str]:
    return {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}


def flags(c: Manifest) -> dict[str, str]:
    """The container's `--name=value` / `--name value` flags, $(VAR) expanded as Kubernetes does."""
    env = env_values(c)
    args = [re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), a) for a in c["args"]]
    parsed: dict[str, str] = {}
    i = 0
    while i < len(args):
        name, sep, value = args[i].partition("=")
        if not sep:
            value, i = args[i + 1], i + 1
        parsed[name] = value
        i += 1
    return parsed


def assert_pod_config_valid(args: dict[str, str], pod_name: str) -> None:
    """``--config.check`` with a pod's own flags, environment and name passes."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "CLEANROOMS_EXTERNAL_ID": "an-external-id-for-the-test",
        "POD_NAME": pod_name,
    }
    command = [sys.executable, "-m", "exporter", *(f"{k}={v}" for k, v in args.items())]
    result = subprocess.run(
        [*command, "--config.check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "configuration valid" in result.stdout


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# --- the kustomization -------------------------------------------------------


def test_kustomization_lists_every_file_and_only_existing_ones() -> None:
    listed = kustomization()["resources"]
    on_disk = {p.name for p in DEPLOY.iterdir()} - {"kustomization.yaml"}
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert set(listed) == on_disk


def test_every_object_has_a_unique_kind_and_name() -> None:
    ids = [(m["kind"], m["metadata"]["name"]) for m in manifests().values()]
    assert len(ids) == len(set(ids))
    assert all("namespace" not in m["metadata"] for m in manifests().values()), (
        "the base leaves the namespace to -n or an overlay"
    )


# --- Kubernetes schemas -------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to open a network connection: validation must work offline."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.usefixtures("no_network")
def test_the_offline_guard_really_blocks_connections() -> None:
    with pytest.raises(AssertionError, match="network access attempted"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def core_manifests() -> list[str]:
    return [n for n, m in manifests().items() if m["kind"] not in OPERATOR_MODELS]


def k8s_validate(manifest: Manifest, version: str) -> None:
    kubernetes_validate.validate(manifest, version, strict=True)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("name", core_manifests())
def test_core_manifest_matches_the_kubernetes_schema(name: str, version: str) -> None:
    k8s_validate(manifests()[name], version)


BROKEN_STATEFULSETS: dict[str, Callable[[Manifest], object]] = {
    "unknown field": lambda s: container(s).__setitem__("readinesProbe", {}),
    "wrong type": lambda s: s["spec"].__setitem__("replicas", "three"),
    "missing required field": lambda s: container(s).pop("name"),
    "unknown nested field": lambda s: container(s)["securityContext"].__setitem__("readOnly", True),
}


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("breakage", BROKEN_STATEFULSETS)
def test_kubernetes_schema_rejects_a_broken_manifest(breakage: str) -> None:
    broken = copy.deepcopy(one("StatefulSet"))
    BROKEN_STATEFULSETS[breakage](broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        k8s_validate(broken, KUBERNETES_VERSIONS[-1])


# --- Prometheus Operator schemas ---------------------------------------------


def operator_validate(manifest: Manifest) -> None:
    # The models are generated from the operator's CRDs; extra="forbid" makes
    # unknown fields fail, as the strict Kubernetes schemas do.
    OPERATOR_MODELS[manifest["kind"]].model_validate(manifest, extra="forbid")


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("kind", OPERATOR_MODELS)
def test_operator_resource_matches_its_crd(kind: str) -> None:
    manifest = one(kind)
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    operator_validate(manifest)


BROKEN_MONITORING: dict[str, tuple[str, Callable[[Manifest], object]]] = {
    "misspelt field": (
        "ServiceMonitor",
        lambda m: m["spec"]["endpoints"][0].update(scrapeTimout="10s"),
    ),
    "bad duration": (
        "ServiceMonitor",
        lambda m: m["spec"]["endpoints"][0].update(interval="1 min"),
    ),
    "no selector": ("ServiceMonitor", lambda m: m["spec"].pop("selector")),
    "rule without expr": (
        "PrometheusRule",
        lambda m: m["spec"]["groups"][0]["rules"][0].pop("expr"),
    ),
    "unknown rule field": ("PrometheusRule", lambda m: m["spec"]["groups"][0].update(rule=[])),
}


@pytest.mark.parametrize("breakage", BROKEN_MONITORING)
def test_operator_models_reject_a_broken_resource(breakage: str) -> None:
    kind, damage = BROKEN_MONITORING[breakage]
    broken = copy.deepcopy(one(kind))
    damage(broken)
    with pytest.raises(pydantic.ValidationError):
        operator_validate(broken)


# --- wiring ---------------------------------------------------------------------


def test_statefulset_service_and_pods_line_up() -> None:
    sts, service = one("StatefulSet"), one("Service")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None", "the governing service must be headless"
    assert selects(sts["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(service["spec"]["selector"], pod_labels)
    assert selects(one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"], pod_labels)
    for constraint in sts["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert selects(constraint["labelSelector"]["matchLabels"], pod_labels)
    assert sts["spec"]["podManagementPolicy"] == "Parallel"


def test_service_port_reaches_the_container_port() -> None:
    c, service = container(one("StatefulSet")), one("Service")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    (metrics,) = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
    assert metrics["targetPort"] in ports
    listen_port = int(flags(c)["--web.listen-address"].rpartition(":")[2])
    assert ports[metrics["targetPort"]] == metrics["port"] == listen_port
    assert f"EXPOSE {listen_port}" in (ROOT / "Dockerfile").read_text()


def test_servicemonitor_selects_the_service_and_its_port() -> None:
    monitor, service = one("ServiceMonitor"), one("Service")
    spec = monitor["spec"]
    assert "namespaceSelector" not in spec, "the monitor looks in its own namespace"
    assert selects(spec["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("60s", "10s")


def test_job_label_is_the_one_the_absent_alert_expects() -> None:
    alerts = (ROOT / "prometheus" / "alerts.yaml").read_text()
    (job,) = set(re.findall(r'up\{job="([^"]+)"\}', alerts))
    job_label = one("ServiceMonitor")["spec"]["jobLabel"]
    assert one("Service")["metadata"]["labels"][job_label] == job


def test_service_account_is_the_pods_and_carries_an_irsa_role() -> None:
    sa, pod = one("ServiceAccount"), one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == sa["metadata"]["name"]
    role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", role)
    assert pod["automountServiceAccountToken"] is False


def config_file() -> tuple[str, str]:
    """(path the --config.file flag names, the ConfigMap text mounted there)."""
    sts = one("StatefulSet")
    c, pod = container(sts), sts["spec"]["template"]["spec"]
    path = flags(c)["--config.file"]
    (mount,) = [m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")]
    assert "subPath" not in mount, "a subPath mount never sees ConfigMap updates"
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    configmap = one("ConfigMap")
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    key = path[len(mount["mountPath"].rstrip("/")) + 1 :]
    items = {i["key"]: i["path"] for i in volume["configMap"].get("items", [])}
    key = next((k for k, p in items.items() if p == key), key)
    assert key in configmap["data"], f"ConfigMap has no key {key!r}"
    return path, configmap["data"][key]


def test_config_file_flag_names_the_mounted_configmap_key() -> None:
    path, text = config_file()
    assert path == "/etc/cleanrooms-exporter/config.yaml"  # the image's documented mount point
    assert "discovery" in yaml.safe_load(text)


def test_external_id_comes_from_a_secret() -> None:
    c = container(one("StatefulSet"))
    (entry,) = [e for e in c["env"] if e["name"] == "CLEANROOMS_EXTERNAL_ID"]
    assert set(entry["valueFrom"]["secretKeyRef"]) == {"name", "key"}
    assert "${CLEANROOMS_EXTERNAL_ID}" in config_file()[1]


def test_configmap_config_passes_the_exporters_own_check(tmp_path: Path) -> None:
    _, text = config_file()
    config = tmp_path / "config.yaml"
    config.write_text(text)
    # The pod's own arguments, pointed at the extracted file.
    args = {**flags(container(one("StatefulSet"))), "--config.file": str(config)}
    assert_pod_config_valid(args, "cleanrooms-exporter-2")


# --- sharding, security, probes, image -----------------------------------------


def test_replicas_equal_shard_count_and_index_is_the_pod_ordinal() -> None:
    sts = one("StatefulSet")
    c = container(sts)
    parsed = flags(c)
    assert int(parsed["--shard.count"]) == sts["spec"]["replicas"]
    assert parsed["--shard.index"] == "auto"
    (pod_name,) = [e for e in c["env"] if e["name"] == "POD_NAME"]
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_pods_run_locked_down() -> None:
    sts = one("StatefulSet")
    uid = int(re.findall(r"^USER (\d+)$", (ROOT / "Dockerfile").read_text(), re.M)[-1])
    pod = sts["spec"]["template"]["spec"]["securityContext"]
    c = container(sts)["securityContext"]
    effective = {**pod, **c}  # container settings win, as in Kubernetes
    assert effective["runAsNonRoot"] is True
    assert effective["runAsUser"] == uid == 10001
    assert effective["seccompProfile"] == {"type": "RuntimeDefault"}
    assert c["readOnlyRootFilesystem"] is True
    assert c["allowPrivilegeEscalation"] is False
    assert c["capabilities"] == {"drop": ["ALL"]}


def test_probes_use_the_right_endpoints_on_the_named_port() -> None:
    c = container(one("StatefulSet"))
    expected = {
        "startupProbe": "/-/healthy",
        "livenessProbe": "/-/healthy",
        "readinessProbe": "/-/ready",
    }
    for probe, path in expected.items():
        assert c[probe]["httpGet"] == {"path": path, "port": "metrics"}, probe
    assert "metrics" in {p["name"] for p in c["ports"]}


def test_grace_period_outlasts_the_stop_the_container_tests_prove() -> None:
    # tests/deploy/test_container.py: SIGTERM ends the exporter with exit 0 within
    # STOP_SECONDS, mid-poll and mid-scrape too; the kubelet's SIGKILL must never come first.
    pod = one("StatefulSet")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 5 * STOP_SECONDS


def test_resources_are_bounded() -> None:
    c = container(one("StatefulSet"))
    resources = c["resources"]
    assert set(resources) == {"requests", "limits"}
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    # Memory request == limit: the pod is never picked first for eviction under pressure.
    assert resources["requests"]["memory"] == resources["limits"]["memory"]
    # Without it, glibc's per-thread arenas grow RSS with every large scrape (docs/kubernetes.md).
    assert env_values(c)["MALLOC_ARENA_MAX"] == "2"


def test_image_tag_is_the_package_version() -> None:
    image = container(one("StatefulSet"))["image"]
    assert image == f"cleanrooms-exporter:{exporter.__version__}"


# --- the PrometheusRule ------------------------------------------------------------


def prometheus_rule_text() -> str:
    """prometheusrule.yaml as generated from the repository's rule files, comments kept."""
    parts = [
        "# Generated from prometheus/rules.yaml and prometheus/alerts.yaml, whose\n"
        "# groups it holds in that order (the alerts use the recording rules).\n"
        "# Edit those files, then regenerate this one with\n"
        "#   UPDATE_GOLDEN=1 .venv/bin/pytest tests/deploy/test_kubernetes.py\n"
        "# The test fails while the two disagree.\n"
        "apiVersion: monitoring.coreos.com/v1\n"
        "kind: PrometheusRule\n"
        "metadata:\n"
        "  name: cleanrooms-exporter\n"
        "  labels:\n"
        "    app.kubernetes.io/name: cleanrooms-exporter\n"
        "    app.kubernetes.io/component: exporter\n"
        "spec:\n"
        "  groups:\n"
    ]
    for path in RULE_FILES:
        _, found, groups = path.read_text().partition("\ngroups:\n")
        assert found, f"{path.name} has no top-level groups:"
        parts.append(f"    # --- from prometheus/{path.name}\n")
        parts.append(textwrap.indent(groups, "  ", lambda line: bool(line.strip())))
    return "".join(parts)


def test_prometheusrule_holds_exactly_the_repository_rule_groups() -> None:
    target = DEPLOY / "prometheusrule.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":  # after editing prometheus/*.yaml
        target.write_text(prometheus_rule_text())
    expected = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    assert yaml.safe_load(target.read_text())["spec"]["groups"] == expected


def test_generated_prometheusrule_parses_to_the_same_groups() -> None:
    # Guards the generator itself: indenting must not change a block scalar.
    expected = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    assert yaml.safe_load(prometheus_rule_text())["spec"]["groups"] == expected


# --- rendering with kustomize ----------------------------------------------------


@pytest.fixture(scope="module")
def kustomize() -> list[str]:
    if path := shutil.which("kustomize"):
        return [path, "build"]
    if path := shutil.which("kubectl"):
        return [path, "kustomize"]
    message = "neither kustomize nor kubectl on PATH"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def render(command: list[str], directory: Path) -> list[Manifest]:
    result = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def documented_overlay() -> str:
    """The overlay docs/kubernetes.md shows: the fenced block after the marker comment."""
    match = re.search(
        r"<!-- overlay: kustomization.yaml -->\s*```yaml\n(.*?)```", DOCS.read_text(), re.S
    )
    assert match, "docs/kubernetes.md lost its overlay example"
    return match[1]


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    text = documented_overlay()
    assert "- ../../deploy/kubernetes" in text
    directory = tmp_path / "overlay"
    directory.mkdir()
    # kustomize wants the base as a relative path.
    base = os.path.relpath(DEPLOY, directory)
    (directory / "kustomization.yaml").write_text(text.replace("../../deploy/kubernetes", base))
    # The file the overlay names beside it.
    (directory / "config.yaml").write_text(config_file()[1])
    return directory


def test_base_renders_to_the_listed_objects(kustomize: list[str]) -> None:
    rendered = render(kustomize, DEPLOY)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in rendered) == sorted(
        (m["kind"], m["metadata"]["name"]) for m in manifests().values()
    )


def test_documented_overlay_renders_valid_and_keeps_shards_in_step(
    kustomize: list[str], overlay: Path
) -> None:
    rendered = {d["kind"]: d for d in render(kustomize, overlay)}
    sts = rendered["StatefulSet"]
    assert sts["spec"]["replicas"] != one("StatefulSet")["spec"]["replicas"], "example scales"
    assert int(flags(container(sts))["--shard.count"]) == sts["spec"]["replicas"]
    for kind, manifest in rendered.items():
        if kind in OPERATOR_MODELS:
            operator_validate(manifest)
        else:
            k8s_validate(manifest, KUBERNETES_VERSIONS[-1])

"""The Helm chart in deploy/helm: rendered and linted with real Helm, every object validated.

helm-python-sdk embeds Helm's Go SDK, so this needs no helm binary and no cluster.
The rendered objects go through the same validators as the kustomize base
(tests/deploy/test_kubernetes.py): the Kubernetes OpenAPI schemas in strict mode and the
Prometheus Operator models.
"""

from __future__ import annotations

import copy
import itertools
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import bcrypt
import helm_python as helm
import pytest
import yaml

import exporter
from tests.deploy.container import STOP_SECONDS
from tests.deploy.test_kubernetes import (
    KUBERNETES_VERSIONS,
    OPERATOR_MODELS,
    RULE_FILES,
    Manifest,
    assert_pod_config_valid,
    container,
    env_values,
    flags,
    k8s_validate,
    no_network,  # noqa: F401 (a fixture, used by name)
    operator_validate,
    selects,
)
from tests.paths import ROOT

CHART = ROOT / "deploy" / "helm" / "cleanrooms-exporter"
DOCS = ROOT / "docs" / "kubernetes.md"
RELEASE, NAMESPACE = "cre", "monitoring"
IRSA_ROLE = "arn:aws:iam::123456789012:role/cleanrooms-exporter"
PASSWORD_HASH = bcrypt.hashpw(b"scrape-password", bcrypt.gensalt(4)).decode()

# Every optional part switched on, with a config that uses discovery and an
# external id from a Secret, the way a large organisation would run it.
ALL_ON: dict[str, Any] = {
    "replicas": 3,
    "image": {"repository": "registry.example/cleanrooms-exporter", "tag": "9.9.9"},
    "imagePullSecrets": [{"name": "registry"}],
    "config": (
        "poll_interval: 5m\n"
        "regions: [us-east-1, eu-west-2]\n"
        "discovery:\n"
        "  organizations:\n"
        "    role_name: CleanRoomsReadOnly\n"
        "    external_id: ${CLEANROOMS_EXTERNAL_ID}  # from extraEnv\n"
    ),
    "extraArgs": ["--log.level=debug"],
    "extraEnv": [
        {
            "name": "CLEANROOMS_EXTERNAL_ID",
            "valueFrom": {"secretKeyRef": {"name": "cleanrooms-exporter", "key": "external-id"}},
        }
    ],
    "serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": IRSA_ROLE}},
    "podAnnotations": {"example.com/team": "data"},
    "podLabels": {"team": "data"},
    "serviceMonitor": {
        "enabled": True,
        "interval": "30s",
        "labels": {"release": "kube-prometheus-stack"},
        "relabelings": [{"targetLabel": "cluster", "replacement": "prod"}],
        "metricRelabelings": [{"sourceLabels": ["__name__"], "regex": "go_.*", "action": "drop"}],
        "basicAuth": {
            "username": {"name": "scrape-auth", "key": "user"},
            "password": {"name": "scrape-auth", "key": "password"},
        },
    },
    "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
    "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
    "webConfig": {
        "enabled": True,
        "basicAuth": True,
        "config": {
            "basic_auth_users": {"prometheus": PASSWORD_HASH},
            "http_server_config": {"headers": {"X-Frame-Options": "deny"}},
        },
    },
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "monitoring", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {
                            "matchLabels": {"app.kubernetes.io/name": "cleanrooms-exporter"}
                        },
                    },
                }
            ]
        }
    },
}
# TLS from an existing Secret: probes and the scrape switch to HTTPS.
TLS: dict[str, Any] = {
    "serviceMonitor": {
        "enabled": True,
        "tlsConfig": {
            "ca": {"secret": {"name": "exporter-ca", "key": "ca.crt"}},
            "serverName": "cleanrooms-exporter",
        },
    },
    "webConfig": {"enabled": True, "existingSecret": "exporter-web", "tls": True},
}
VARIANTS: dict[str, dict[str, Any]] = {"defaults": {}, "all-on": ALL_ON, "tls": TLS}


def render(values: dict[str, Any]) -> list[Manifest]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE)
    objects = []
    for name, text in files.items():
        if name.endswith(".yaml"):
            objects.extend(d for d in yaml.safe_load_all(text) if d)
    return objects


def by_kind(objects: list[Manifest]) -> dict[str, Manifest]:
    kinds = [o["kind"] for o in objects]
    assert len(kinds) == len(set(kinds)), f"one object of each kind expected: {kinds}"
    return {o["kind"]: o for o in objects}


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, Manifest]]:
    return {name: by_kind(render(values)) for name, values in VARIANTS.items()}


# --- lint and render -------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_chart_lints_clean_in_strict_mode(variant: str) -> None:
    result = helm.lint(str(CHART), copy.deepcopy(VARIANTS[variant]), strict=True)
    assert result["errors"] == []
    # Helm's severities: 1 info, 2 warning, 3 error. Only "icon is recommended" is info.
    assert [m for m in result["messages"] if m["severity"] >= 2] == []


def test_lint_reports_a_broken_template(tmp_path: Path) -> None:
    broken = tmp_path / "cleanrooms-exporter"
    shutil.copytree(CHART, broken)
    service = broken / "templates" / "service.yaml"
    service.write_text(service.read_text().replace("{{ .Values.service.port }}", "{{ .Values"))
    result = helm.lint(str(broken), strict=True)
    assert result["errors"] or any(m["severity"] == 3 for m in result["messages"])


def test_default_render_holds_the_core_objects_only(rendered) -> None:
    assert set(rendered["defaults"]) == {
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
    }
    assert set(rendered["all-on"]) == {
        *rendered["defaults"],
        "ServiceMonitor",
        "PrometheusRule",
        "Secret",
    }
    assert "Secret" not in rendered["tls"], "an existing Secret is used, not made"


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_rendered_object_is_valid(rendered, variant: str, version: str) -> None:
    for kind, manifest in rendered[variant].items():
        assert manifest["metadata"]["name"].startswith(RELEASE), kind
        if kind in OPERATOR_MODELS:
            assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
            operator_validate(manifest)
        else:
            k8s_validate(manifest, version)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replica": 3}, "replica"),  # misspelt: values.schema.json allows no unknown key
        ({"replicas": 0}, "replicas"),
        ({"serviceMonitor": {"enabled": True, "interval": "1 min"}}, "interval"),
        ({"webConfig": {"enabled": "yes"}}, "enabled"),
        ({"extraArgs": ["log.level=debug"]}, "extraArgs"),
    ],
)
def test_values_schema_refuses_bad_values(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmError, match=complaint):
        render(values)


def test_service_account_without_a_name_is_refused() -> None:
    with pytest.raises(helm.HelmError, match=r"serviceAccount\.name is required"):
        render({"serviceAccount": {"create": False}})


def test_web_config_without_content_is_refused() -> None:
    with pytest.raises(helm.HelmError, match=r"webConfig\.config or webConfig\.existingSecret"):
        render({"webConfig": {"enabled": True}})


# --- wiring ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_statefulset_service_and_pods_line_up(rendered, variant: str) -> None:
    objects = rendered[variant]
    sts, service = objects["StatefulSet"], objects["Service"]
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None"
    assert selects(sts["spec"]["selector"]["matchLabels"], pod_labels)
    assert selects(service["spec"]["selector"], pod_labels)
    assert selects(objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], pod_labels)
    c = container(sts)
    (port,) = service["spec"]["ports"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]}[port["targetPort"]] == 19431
    assert int(flags(c)["--web.listen-address"].rpartition(":")[2]) == 19431
    pod = sts["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == objects["ServiceAccount"]["metadata"]["name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_replicas_are_shards(rendered, variant: str) -> None:
    sts = rendered[variant]["StatefulSet"]
    c = container(sts)
    assert int(flags(c)["--shard.count"]) == sts["spec"]["replicas"]
    assert flags(c)["--shard.index"] == "auto"
    (pod_name,) = [e for e in c["env"] if e["name"] == "POD_NAME"]
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert sts["spec"]["replicas"] == VARIANTS[variant].get("replicas", 1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_pods_run_locked_down_with_bounded_resources(rendered, variant: str) -> None:
    sts = rendered[variant]["StatefulSet"]
    pod, c = sts["spec"]["template"]["spec"], container(sts)
    effective = {**pod["securityContext"], **c["securityContext"]}
    assert effective["runAsNonRoot"] is True
    assert effective["runAsUser"] == 10001
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert c["resources"]["requests"]["memory"] == c["resources"]["limits"]["memory"]
    assert env_values(c)["MALLOC_ARENA_MAX"] == "2"


def probes(sts: Manifest) -> dict[str, tuple[str, str]]:
    c = container(sts)
    return {
        name: (c[name]["httpGet"]["path"], c[name]["httpGet"]["scheme"])
        for name in ("startupProbe", "livenessProbe", "readinessProbe")
    }


def test_probes_follow_tls_and_basic_auth(rendered) -> None:
    assert probes(rendered["defaults"]["StatefulSet"]) == {
        "startupProbe": ("/-/healthy", "HTTP"),
        "livenessProbe": ("/-/healthy", "HTTP"),
        "readinessProbe": ("/-/ready", "HTTP"),
    }
    # With basic auth /-/ready would answer 401 to the kubelet; /-/healthy stays open.
    assert probes(rendered["all-on"]["StatefulSet"])["readinessProbe"] == ("/-/healthy", "HTTP")
    assert set(probes(rendered["tls"]["StatefulSet"]).values()) == {
        ("/-/healthy", "HTTPS"),
        ("/-/ready", "HTTPS"),
    }
    assert rendered["tls"]["ServiceMonitor"]["spec"]["endpoints"][0]["scheme"] == "https"


def test_grace_period_outlasts_the_stop_the_container_tests_prove(rendered) -> None:
    # tests/deploy/test_container.py: SIGTERM ends the exporter with exit 0 within
    # STOP_SECONDS, mid-poll and mid-scrape too; the kubelet's SIGKILL must never come first.
    for variant, objects in rendered.items():
        pod = objects["StatefulSet"]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 5 * STOP_SECONDS, variant


def test_image_tag_defaults_to_the_exporter_version(rendered) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == exporter.__version__
    image = container(rendered["defaults"]["StatefulSet"])["image"]
    assert image == f"cleanrooms-exporter:{exporter.__version__}"
    assert container(rendered["all-on"]["StatefulSet"])["image"] == (
        "registry.example/cleanrooms-exporter:9.9.9"
    )


def test_optional_values_reach_the_objects(rendered) -> None:
    objects = rendered["all-on"]
    sts = objects["StatefulSet"]
    c, pod = container(sts), sts["spec"]["template"]["spec"]
    assert "--log.level=debug" in c["args"]
    assert ALL_ON["extraEnv"][0] in c["env"]
    assert objects["ServiceAccount"]["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": IRSA_ROLE
    }
    assert pod["nodeSelector"] == ALL_ON["nodeSelector"]
    assert pod["tolerations"] == ALL_ON["tolerations"]
    assert pod["affinity"] == ALL_ON["affinity"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert sts["spec"]["template"]["metadata"]["labels"]["team"] == "data"
    monitor = objects["ServiceMonitor"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert endpoint["interval"] == "30s"
    assert endpoint["relabelings"] == ALL_ON["serviceMonitor"]["relabelings"]
    assert endpoint["metricRelabelings"] == ALL_ON["serviceMonitor"]["metricRelabelings"]
    assert endpoint["basicAuth"] == ALL_ON["serviceMonitor"]["basicAuth"]
    assert objects["PrometheusRule"]["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_config_change_rolls_the_pods() -> None:
    def checksum(values: dict[str, Any]) -> str:
        sts = by_kind(render(values))["StatefulSet"]
        return str(sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"config": "poll_interval: 10m\n"})


def test_servicemonitor_selects_the_service_and_keeps_the_alerts_job(rendered) -> None:
    objects = rendered["all-on"]
    monitor, service = objects["ServiceMonitor"], objects["Service"]
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    alerts = (ROOT / "prometheus" / "alerts.yaml").read_text()
    (job,) = set(re.findall(r'up\{job="([^"]+)"\}', alerts))
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == job


def test_prometheusrule_holds_the_repository_rule_groups(rendered) -> None:
    for path in RULE_FILES:
        copied = CHART / "files" / path.name
        if os.environ.get("UPDATE_GOLDEN") == "1":  # after editing prometheus/*.yaml
            shutil.copyfile(path, copied)
        assert copied.read_text() == path.read_text(), f"{copied} differs from {path}"
    expected = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    groups = rendered["all-on"]["PrometheusRule"]["spec"]["groups"]
    assert groups == expected
    assert any("{{ $labels.account_id }}" in str(g) for g in groups), "alert templates kept"


# --- the config the chart mounts passes the exporter's own check --------------------


def mounted_files(objects: dict[str, Manifest], tmp_path: Path) -> dict[str, str]:
    """The pod's flags, with every file flag pointed at a copy of what is mounted there."""
    sts = objects["StatefulSet"]
    c, pod = container(sts), sts["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    parsed = flags(c)
    for flag in ("--config.file", "--web.config.file"):
        if flag not in parsed:
            continue
        path = parsed[flag]
        # The deepest mount that holds the file, as Kubernetes resolves nested mounts.
        mount = max(
            (m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/")),
            key=lambda m: len(m["mountPath"]),
        )
        key = path[len(mount["mountPath"].rstrip("/")) + 1 :]
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            configmap = objects["ConfigMap"]
            assert volume["configMap"]["name"] == configmap["metadata"]["name"]
            text = configmap["data"][key]
        else:
            secret = objects["Secret"]
            assert volume["secret"]["secretName"] == secret["metadata"]["name"]
            text = secret["stringData"][key]
        local = tmp_path / flag.strip("-").replace(".", "-")
        local.write_text(text)
        parsed[flag] = str(local)
    return parsed


@pytest.mark.parametrize("variant", ["defaults", "all-on"])
def test_mounted_config_passes_the_exporters_own_check(
    rendered, variant: str, tmp_path: Path
) -> None:
    args = mounted_files(rendered[variant], tmp_path)
    assert_pod_config_valid(args, f"{RELEASE}-cleanrooms-exporter-0")
    if variant == "all-on":
        assert "--web.config.file" in args


# --- docs ----------------------------------------------------------------------------


def documented_install() -> tuple[str, dict[str, Any]]:
    """The first shell command of docs/kubernetes.md, and the values its --set flags give."""
    first_block = re.search(r"```sh\n(.*?)```", DOCS.read_text(), re.S)
    assert first_block, "docs/kubernetes.md has no shell block"
    words = shlex.split(first_block[1])  # as the shell splits and unescapes it
    values: dict[str, Any] = {}
    for flag, text in itertools.pairwise(words):
        if flag == "--set":
            values = _merge(values, helm.parse_set_string(text))
        elif flag == "--set-string":
            values = _merge(values, helm.parse_set_string_values(text))
    command = " ".join(words)
    return command, values


def test_docs_start_with_the_helm_install_line() -> None:
    command, values = documented_install()
    assert command.startswith("helm install cleanrooms-exporter deploy/helm/cleanrooms-exporter")
    assert values, "the documented line sets the values a real install needs"
    _assert_known(values, yaml.safe_load((CHART / "values.yaml").read_text()), "")


@pytest.mark.usefixtures("no_network")
def test_documented_install_renders_valid_objects() -> None:
    _, values = documented_install()
    objects = by_kind(render(values))
    annotations = objects["ServiceAccount"]["metadata"]["annotations"]
    assert re.fullmatch(r"arn:aws:iam::\d{12}:role/[\w+=,.@-]+", annotations[IRSA_KEY])
    for kind, manifest in objects.items():
        if kind in OPERATOR_MODELS:
            operator_validate(manifest)
        else:
            k8s_validate(manifest, KUBERNETES_VERSIONS[-1])


IRSA_KEY = "eks.amazonaws.com/role-arn"


def _assert_known(given: dict[str, Any], defaults: dict[str, Any], path: str) -> None:
    """Every key set exists in values.yaml, down to a free-form map (an empty {} default)."""
    for key, value in given.items():
        assert key in defaults, f"--set {path}{key}: no such value in values.yaml"
        if isinstance(value, dict) and defaults[key]:
            _assert_known(value, defaults[key], f"{path}{key}.")


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    out = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out

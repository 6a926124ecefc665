"""Every AWS action a collector calls is in the README's IAM policy and the Helm values."""

from __future__ import annotations

import json
import re

from exporter.collectors import REGISTRY
from tests.paths import ROOT

ACTIONS = sorted({f"{s.iam_prefix}:{op}" for s in REGISTRY for op in s.polling.operations})


def readme_policy_actions() -> set[str]:
    blocks = re.findall(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    found: set[str] = set()
    for block in blocks:
        for statement in json.loads(block).get("Statement", []):
            action = statement["Action"]
            found.update([action] if isinstance(action, str) else action)
    return found


def test_the_readme_policy_allows_every_action_the_collectors_call() -> None:
    assert set(ACTIONS) <= readme_policy_actions()
    assert "cleanrooms-ml:ListTrainedModels" in ACTIONS  # ML actions have their own prefix


def test_the_helm_values_name_every_action() -> None:
    values = (ROOT / "deploy" / "helm" / "cleanrooms-exporter" / "values.yaml").read_text()
    assert [a for a in ACTIONS if a not in values] == []

"""Every operation a collector calls exists in botocore's model of its service."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version

import botocore.session
import pytest

from exporter.collectors import REGISTRY
from tests.paths import ROOT

FIRST_WITH_ALL = (1, 43, 38)  # ListIntermediateTables arrived in botocore 1.43.38
CALLED = sorted({(spec.polling.service, op) for spec in REGISTRY for op in spec.polling.operations})


@pytest.mark.parametrize(("service", "operation"), CALLED)
def test_the_installed_model_has_the_operation(service: str, operation: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    assert operation in model.operation_names


def test_the_dependency_asks_for_the_first_release_that_has_them_all() -> None:
    # boto3 and botocore share their version numbers; older models lack an operation.
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (boto3,) = [d for d in dependencies if d.startswith("boto3")]
    assert boto3 == "boto3>=" + ".".join(map(str, FIRST_WITH_ALL))
    installed = tuple(int(part) for part in re.findall(r"\d+", version("botocore"))[:3])
    assert installed >= FIRST_WITH_ALL
    assert {"cleanroomsml", "cleanrooms"} <= {service for service, _ in CALLED}

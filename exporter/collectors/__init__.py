"""The collector registry: every module of this package with a ``SPEC`` is a collector.

Like node_exporter's ``registerCollector``, a resource declares itself: its module's
``SPEC`` (``base.CollectorSpec``) says what it polls, exports and shows, and its ``order``
places it in the exposition. Config keys, ``--collector.NAME`` flags, scheduling, health
series, API counting, the docs' tables and the IAM lists follow from it. Collectors import
only ``exporter.core`` and one another (fan-out collectors use ``collaborations``); they
reach AWS through their poll context and leave rendering to ``exporter.metrics``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from exporter.collectors.base import CollectorSpec


def _discover() -> tuple[CollectorSpec[Any], ...]:
    specs = []
    for found in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{found.name}")
        spec = getattr(module, "SPEC", None)
        if isinstance(spec, CollectorSpec):
            if spec.name != found.name:
                raise RuntimeError(f"{module.__name__}: its SPEC is named {spec.name!r}")
            specs.append(spec)
    ordered = tuple(sorted(specs, key=lambda s: (s.order, s.name)))
    orders = [s.order for s in ordered]
    if len(set(orders)) != len(orders):
        raise RuntimeError(f"two collectors share an order: {orders}")
    return ordered


REGISTRY = _discover()
BY_NAME = {spec.name: spec for spec in REGISTRY}
# The target's own collector: always on, its health exported as cleanrooms_target_*.
(PRIMARY,) = (spec for spec in REGISTRY if spec.polling.primary)

__all__ = ["BY_NAME", "PRIMARY", "REGISTRY", "CollectorSpec"]

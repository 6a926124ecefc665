"""The ``--config.*`` flags and ``--collector.NAME`` / ``--no-collector.NAME`` (node_exporter's)."""

from __future__ import annotations

import argparse
from dataclasses import replace

from exporter.collectors import REGISTRY
from exporter.config.collectors import with_overrides
from exporter.config.output import MetricsFilter, pattern_problem
from exporter.config.settings import Config


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration")
    group.add_argument("--config.file", dest="config_file", help="YAML configuration file")
    group.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration and exit (0 valid, 2 invalid); makes no AWS call",
    )
    group.add_argument(
        "--check.aws",
        dest="check_aws",
        action="store_true",
        help="with --config.check: also call each enabled collector's cheapest read once, "
        "with the real credentials, and say what to fix (exit 1 if any fails); serves nothing",
    )
    _add_collector_flags(parser)
    _add_metrics_flags(parser)


def _add_metrics_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("metrics (flags replace the file's metrics.allow, .deny)")
    group.add_argument(
        "--metrics.allowlist",
        dest="metrics_allowlist",
        action="append",
        metavar="REGEX",
        help="export only the families whose whole name (with _total, _info) matches; "
        "repeat for several",
    )
    group.add_argument(
        "--metrics.denylist",
        dest="metrics_denylist",
        action="append",
        metavar="REGEX",
        help="do not export the families whose whole name matches; wins over the allow "
        "list; repeat for several",
    )


def _add_collector_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("collectors (flags override collectors.NAME.enabled)")
    for spec in REGISTRY:
        if spec.polling.primary:
            continue  # always on
        default = "on" if spec.polling.default_enabled else "off"
        dest = f"collector_{spec.name}"
        group.add_argument(
            f"--collector.{spec.name}",
            dest=dest,
            action="store_const",
            const=True,
            help=f"{spec.doc} (default {default})",
        )
        group.add_argument(
            f"--no-collector.{spec.name}", dest=dest, action="store_const", const=False
        )


def collector_overrides(args: argparse.Namespace) -> dict[str, bool]:
    """The collectors a flag switched on or off."""
    overrides = {}
    for spec in REGISTRY:
        value = getattr(args, f"collector_{spec.name}", None)
        if value is not None:
            overrides[spec.name] = bool(value)
    return overrides


def with_collector_flags(config: Config, args: argparse.Namespace) -> Config:
    """Flags win over the config file, like Prometheus' own flags: collectors, metrics."""
    collectors = with_overrides(config.collectors, collector_overrides(args))
    return replace(config, collectors=collectors, metrics=with_metrics_flags(config, args))


def with_metrics_flags(config: Config, args: argparse.Namespace) -> MetricsFilter:
    """``--metrics.allowlist`` and ``--metrics.denylist`` replace the file's lists."""
    allow = getattr(args, "metrics_allowlist", None)
    deny = getattr(args, "metrics_denylist", None)
    for flag, patterns in (("--metrics.allowlist", allow), ("--metrics.denylist", deny)):
        for pattern in patterns or ():
            if problem := pattern_problem(pattern):
                raise ValueError(f"{flag}: {problem}")
    metrics = config.metrics
    return MetricsFilter(
        tuple(allow) if allow is not None else metrics.allow,
        tuple(deny) if deny is not None else metrics.deny,
    )

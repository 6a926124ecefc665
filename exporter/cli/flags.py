"""The command line's flags: each part adds its own (``add_flags``), this module the rest."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from exporter import __version__
from exporter.config import flags as config_flags
from exporter.core.logs import FORMATS, LEVELS
from exporter.demo import flags as demo_flags
from exporter.polling import flags as polling_flags
from exporter.web import flags as web_flags


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="cleanrooms-exporter",
        description="Prometheus exporter for AWS Clean Rooms collaborations.",
        allow_abbrev=False,  # --config.ch must not pass for --config.check
    )
    config_flags.add_flags(parser)
    web_flags.add_flags(parser)
    polling_flags.add_flags(parser)
    _add_own_flags(parser)
    demo_flags.add_flags(parser)
    return parser.parse_args(argv)


def _add_own_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log.level",
        dest="log_level",
        choices=LEVELS,
        default="info",
        help=f"only log lines at this level or above: {', '.join(LEVELS)} (default info)",
    )
    parser.add_argument(
        "--log.format",
        dest="log_format",
        choices=FORMATS,
        default="logfmt",
        help=f"log line format on stderr: {', '.join(FORMATS)} (default logfmt)",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="poll every target once with every enabled collector, print the metrics, "
        "exit 0 if all succeeded, else 1",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")

"""The ``--demo`` flags: run against the embedded simulated Clean Rooms."""

from __future__ import annotations

import argparse


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("demo")
    group.add_argument(
        "--demo",
        action="store_true",
        help="run against an embedded simulated Clean Rooms (needs the demo extra); no AWS account",
    )
    group.add_argument(
        "--demo.poll-interval",
        dest="demo_poll_interval",
        default="15s",
        help="poll interval of the demo (default 15s)",
    )
    group.add_argument(
        "--demo.throttle-ratio",
        dest="demo_throttle_ratio",
        type=float,
        default=0.03,
        help="share of demo Clean Rooms requests answered with HTTP 429 (default 0.03)",
    )

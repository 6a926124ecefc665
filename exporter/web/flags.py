"""The ``--web.*`` flags: where and how the HTTP side listens, and what a client may take."""

from __future__ import annotations

import argparse

from exporter.config import parse_duration
from exporter.web.guard import WebLimits

DEFAULT_PORT = 19431


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("web")
    group.add_argument(
        "--web.listen-address",
        dest="listen",
        default=f":{DEFAULT_PORT}",
        help=f"host:port to serve on (default :{DEFAULT_PORT}, all IPv4 interfaces)",
    )
    group.add_argument(
        "--web.config.file",
        dest="web_config_file",
        help="TLS and basic-auth settings in the exporter-toolkit format",
    )
    group.add_argument(
        "--web.read-timeout",
        dest="web_read_timeout",
        default="5s",
        help="time for a client to send a whole request, from its first byte or from "
        "connecting (default 5s)",
    )
    group.add_argument(
        "--web.idle-timeout",
        dest="web_idle_timeout",
        default="1m",
        help="how long a keep-alive connection may wait for its next request (default 1m)",
    )
    group.add_argument(
        "--web.max-requests",
        dest="web_max_requests",
        type=int,
        default=40,
        help="requests served at once, beyond which the answer is 503 at once; probes of "
        "/-/healthy and /-/ready do not count (default 40, 0 for no limit)",
    )
    group.add_argument(
        "--web.max-connections",
        dest="web_max_connections",
        type=int,
        default=512,
        help="open connections; beyond it the one waiting longest for a request is closed "
        "(default 512)",
    )


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``:port`` or ``[v6]:port`` to a bind address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--web.listen-address: expected host:port, got {text!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (exporters listen on all by default)


def web_limits(args: argparse.Namespace) -> WebLimits:
    """The --web.* bounds; ``ValueError`` names the flag at fault."""
    timeouts = {}
    for flag, text in (("read", args.web_read_timeout), ("idle", args.web_idle_timeout)):
        try:
            timeouts[flag] = parse_duration(text)
        except ValueError as err:
            raise ValueError(f"--web.{flag}-timeout: {err}") from err
        if timeouts[flag] <= 0:
            raise ValueError(f"--web.{flag}-timeout must be above 0")
    if args.web_max_requests < 0:
        raise ValueError("--web.max-requests must be 0 (no limit) or more")
    if args.web_max_connections < 1:
        raise ValueError("--web.max-connections must be 1 or more")
    return WebLimits(
        read_timeout=timeouts["read"],
        idle_timeout=timeouts["idle"],
        max_requests=args.web_max_requests,
        max_connections=args.web_max_connections,
    )

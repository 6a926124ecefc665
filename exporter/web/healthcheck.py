"""``python -m exporter.web.healthcheck``: the container's HEALTHCHECK, on the exporter's scheme.

Reads the exporter's own ``--web.*`` flags (given here, else from the command line of
process 1, the exporter in its container), then asks ``/-/healthy`` over HTTPS when the
``--web.config.file`` turns TLS on, else over HTTP. ``/-/healthy`` needs no password. The
certificate is not verified: this is the process checking itself on loopback. Exit 0
when the answer is 200, else 1.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path

from exporter.config import ConfigError
from exporter.web.flags import add_flags, parse_listen_address
from exporter.web.tlsconfig import load_web_config

TIMEOUT = 4.0
PROC_ONE = Path("/proc/1/cmdline")


def exporter_args(argv: Sequence[str]) -> argparse.Namespace:
    """The ``--web.*`` flags of ``argv`` (others ignored), or of process 1 when none."""
    if not argv and PROC_ONE.exists():
        argv = [a for a in PROC_ONE.read_bytes().decode().split("\0") if a]
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_flags(parser)
    return parser.parse_known_args(list(argv))[0]


def probe(args: argparse.Namespace) -> int:
    """The status of ``GET /-/healthy`` on the exporter the flags describe."""
    host, port = parse_listen_address(args.listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a wildcard bind: ask on loopback)
        host = "127.0.0.1" if host != "::" else "::1"
    tls = args.web_config_file and load_web_config(args.web_config_file).tls is not None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # itself, on loopback: nothing to verify
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        connection.request("GET", "/-/healthy")
        return connection.getresponse().status
    finally:
        connection.close()


def main(argv: Sequence[str]) -> int:
    try:
        status = probe(exporter_args(argv))
    except (OSError, ValueError, ConfigError, http.client.HTTPException) as err:
        print(f"unhealthy: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: /-/healthy answered {status}", file=sys.stderr)
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

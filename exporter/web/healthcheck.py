"""``python -m exporter.web.healthcheck``: the container's HEALTHCHECK, on the exporter's scheme.

Reads the exporter's own ``--web.*`` flags (given here, else from the exporter's command
line in its container: process 1's, or, under an init such as ``docker run --init``, that of
the process the init runs), then asks ``/-/healthy`` over HTTPS when the
``--web.config.file`` turns TLS on, else over HTTP. ``/-/healthy`` needs no password. The
certificate is not verified: this is the process checking itself on loopback. Exit 0
when the answer is 200, else 1.
"""

from __future__ import annotations

import argparse
import http.client
import ssl
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from exporter.config import ConfigError
from exporter.web.flags import add_flags, parse_listen_address
from exporter.web.tlsconfig import load_web_config

TIMEOUT = 4.0
PROC = Path("/proc")
COMMAND = "cleanrooms-exporter"  # the console script; also ``python -m exporter``


def exporter_args(argv: Sequence[str], proc: Path = PROC) -> argparse.Namespace:
    """The ``--web.*`` flags of ``argv`` (others ignored), or of the exporter's when none."""
    if not argv:
        argv = exporter_command(proc)
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_flags(parser)
    return parser.parse_known_args(list(argv))[0]


def exporter_command(proc: Path = PROC) -> list[str]:
    """The exporter's arguments: of process 1 if it is the exporter, else of the first that is.

    Under an init, process 1 is ``INIT [OPTIONS] -- cleanrooms-exporter ARGS``
    (``/run/podman-init``, docker's ``/sbin/docker-init``, tini): reading all of it,
    argparse took everything after ``--`` for positionals and the flags went unseen. Behind
    a shell that does not ``exec``, the exporter is another process. [] when none is found.
    """
    for command_line in _command_lines(proc):
        arguments = _after_command(command_line)
        if arguments is not None:
            return arguments
    return []


def _command_lines(proc: Path) -> Iterator[list[str]]:
    """Each process's arguments, process 1 first."""
    for pid in sorted(int(p.name) for p in proc.iterdir() if p.name.isdigit()):
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue  # exited meanwhile, or not ours to read
        yield [arg.decode(errors="replace") for arg in raw.split(b"\0")[:-1]]


def _after_command(command_line: list[str]) -> list[str] | None:
    """The arguments after the exporter's own command in ``command_line``, else None."""
    for i, arg in enumerate(command_line):
        if Path(arg).name == COMMAND:  # the script, also when run as ``python SCRIPT``
            return command_line[i + 1 :]
        if arg == "-m" and command_line[i + 1 : i + 2] == ["exporter"]:
            return command_line[i + 2 :]
    return None


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

"""A container engine for the container tests: docker or podman, whichever works here.

The tests build the repository's Dockerfile unchanged and run the image the way users do.
Every container runs with a read-only root file system and no tmpfs (podman mounts
writable tmpfs on /tmp and /run under ``--read-only`` unless told not to; docker does
not), as the image's own non-root user, so every check also proves that the exporter
needs no writable path.
"""

from __future__ import annotations

import datetime
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.paths import ROOT

# docs/operations.md: SIGTERM ends the exporter, with exit 0, within two seconds.
STOP_SECONDS = 2.0
ENGINES = ("docker", "podman")
BASE = "python:3.11-slim-bookworm"  # the Dockerfile's FROM
# pip in the build's RUN steps reaches the package index only with the machine's own CA
# bundle on machines behind an intercepting proxy (../shared/container/prepare says why).
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
_names = itertools.count()


def find_engine() -> Engine:
    """The first of docker and podman that answers ``info``; skip (fail under CI) if none."""
    tried = []
    for name in ENGINES:
        path = shutil.which(name)
        if path is None:
            tried.append(f"{name}: not installed")
            continue
        info = subprocess.run(
            [path, "info"], capture_output=True, text=True, timeout=60, check=False
        )
        if info.returncode == 0:
            # podman-docker's `docker` is podman, which needs podman's build flags.
            version = subprocess.run(
                [path, "--version"], capture_output=True, text=True, timeout=60, check=False
            ).stdout.lower()
            return Engine(path, "podman" if "podman" in version else name)
        tried.append(f"{name}: `{name} info` failed: {info.stderr.strip()[-200:]}")
    message = "no container engine works here (install docker or podman); " + "; ".join(tried)
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class Engine:
    path: str
    name: str  # docker or podman

    def __call__(
        self,
        *args: str,
        timeout: float = 60,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The engine's command line; ``env``: the whole environment (default: this one's)."""
        result = subprocess.run(
            [self.path, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{self.name} {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
            )
        return result

    def build_flags(self) -> list[str]:
        """What this engine needs to build the Dockerfile as docker does."""
        if self.name != "podman":
            return []
        # The OCI format drops HEALTHCHECK; a base image already here (the stand-in that
        # ../shared/container/prepare builds) is used as it is, not pulled again.
        flags = ["--format", "docker"]
        if self("image", "exists", BASE, check=False).returncode == 0:
            flags.append("--pull=never")
        if CA_BUNDLE.is_file():
            flags += ["-v", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
        return flags

    def build(self, tag: str, *args: str) -> None:
        """``docker build -t TAG .`` in the repository, with ``args`` (build arguments)."""
        self("build", *self.build_flags(), *args, "-t", tag, str(ROOT), timeout=900)

    def run_options(self) -> list[str]:
        options = ["--read-only"]
        if self.name == "podman":
            options.append("--read-only-tmpfs=false")
        return options

    def start(self, image: str, *args: str, options: Sequence[str] = ()) -> Container:
        """``docker run -d`` with a read-only root; the container is removed by ``remove``."""
        name = f"cleanrooms-test-{os.getpid()}-{next(_names)}"
        self("run", "-d", "--name", name, *self.run_options(), *options, image, *args)
        return Container(self, name)

    def run(
        self, image: str, *args: str, options: Sequence[str] = (), timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``docker run --rm`` in the foreground, to its end (no health checks: no time)."""
        command = ["run", "--rm", "--no-healthcheck", *self.run_options(), *options, image, *args]
        return self(*command, timeout=timeout, check=False)

    def image_size(self, image: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", image).stdout)


@dataclass
class Container:
    engine: Engine
    name: str
    signalled: float = field(default=0.0)  # wall clock of the last signal sent

    def inspect(self, template: str) -> str:
        return self.engine("inspect", "--format", template, self.name).stdout.strip()

    def host_port(self, port: int) -> int:
        """The host port a ``-p 127.0.0.1::PORT`` publication got."""
        out = self.engine("port", self.name, f"{port}/tcp").stdout
        return int(out.split()[0].rsplit(":", 1)[1])

    def running(self) -> bool:
        return self.inspect("{{.State.Running}}") == "true"

    def signal(self, name: str) -> None:
        """Send signal ``name`` (TERM, HUP) to the container's process 1, as ``docker kill`` does.

        Straight to its process on this host, not through the engine's command line: that
        takes a few tenths of a second on a busy machine, which would be counted in a stop.
        """
        pid = int(self.inspect("{{.State.Pid}}"))
        self.signalled = time.time()
        os.kill(pid, getattr(signal, f"SIG{name}"))

    def exit(self, timeout: float = 10.0) -> tuple[int, float]:
        """Its exit code and the seconds from the last signal to its exit (killed if late)."""
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                self.engine("kill", "--signal", "KILL", self.name, check=False)
                raise AssertionError(f"still running {timeout} s after the signal:\n{self.logs()}")
            time.sleep(0.05)
        finished = parse_time(self.inspect("{{.State.FinishedAt}}"))
        return int(self.inspect("{{.State.ExitCode}}")), finished - self.signalled

    def stop(self) -> tuple[int, float]:
        """SIGTERM, as ``docker stop`` sends: the exit code and how long the stop took."""
        self.signal("TERM")
        return self.exit()

    def logs(self) -> str:
        result = self.engine("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return self.engine("exec", self.name, *command, check=False)

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        """The image's own HEALTHCHECK, run now (no engine here runs it on its schedule)."""
        if self.engine.name == "podman":
            return self.engine("healthcheck", "run", self.name, check=False)
        test = self.inspect("{{json .Config.Healthcheck.Test}}")
        kind, *command = json.loads(test)
        assert kind == "CMD", test
        return self.exec(*command)

    def remove(self) -> None:
        self.engine("kill", "--signal", "KILL", self.name, check=False)
        self.engine("rm", "--force", self.name, check=False)


def exporter_process(marker: str, timeout: float) -> tuple[int, float]:
    """The host pid of the exporter whose arguments hold ``marker``, and when it started.

    The start is on the boot clock (``CLOCK_BOOTTIME``), from /proc/PID/stat.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                words = (entry / "cmdline").read_bytes().split(b"\0")
                if marker.encode() not in words or not any(
                    w.endswith(b"/cleanrooms-exporter") for w in words
                ):
                    continue  # not it (the engine's own command line holds the marker too)
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # not a process, or gone
            return int(entry.name), int(fields[19]) / os.sysconf("SC_CLK_TCK")  # starttime
        time.sleep(0.005)
    raise AssertionError(f"no exporter process with {marker} within {timeout} s")


def parse_time(text: str) -> float:
    """An engine's timestamp (docker's RFC 3339, or Go's default layout from podman)."""
    match = re.match(
        r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?\s*(Z|[+-]\d\d:?\d\d)?", text.strip()
    )
    assert match, f"not a timestamp: {text!r}"
    day, clock, fraction, zone = match.groups()
    offset = "+00:00" if zone in (None, "Z") else zone
    parsed = datetime.datetime.fromisoformat(f"{day}T{clock}{offset}")
    return parsed.timestamp() + float(fraction or 0)


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, container: Container | None = None
) -> None:
    """Poll ``predicate``; fail after ``timeout``, or as soon as ``container`` has exited."""
    deadline = time.monotonic() + timeout
    for attempt in itertools.count():
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        if container is not None and attempt % 10 == 9 and not container.running():
            raise AssertionError(f"{what}: the container exited:\n{container.logs()[-3000:]}")
        time.sleep(0.1)


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, str]:
    """A plain HTTP request on loopback: status and body (0 when nothing answers)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException):
        return 0, ""
    finally:
        connection.close()


def post(port: int, path: str) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Blackhole:
    """A TCP server on loopback that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted.append(conn)  # held open, unread, unanswered

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@dataclass
class Containers:
    """The containers a test started: their logs printed (shown if it fails), then removed."""

    engine: Engine
    started: list[Container] = field(default_factory=list)

    def start(self, image: str, *args: str, options: Sequence[str] = ()) -> Container:
        container = self.engine.start(image, *args, options=options)
        self.started.append(container)
        return container

    def start_and_stop(
        self, after: float, image: str, *args: str, options: Sequence[str] = ()
    ) -> Container:
        """Start a container, and SIGTERM its process ``after`` seconds after that started.

        Timed on the process itself: the engine's command line can return a second after
        the start on a busy machine, when the exporter is serving already.
        """
        marker = f"--web.listen-address=:{free_port()}"  # finds its process on this host
        started: list[Container] = []
        thread = threading.Thread(
            target=lambda: started.append(self.start(image, *args, marker, options=options))
        )
        thread.start()
        pid, began = exporter_process(marker, timeout=60)
        time.sleep(max(0.0, began + after - time.clock_gettime(time.CLOCK_BOOTTIME)))
        signalled = time.time()
        os.kill(pid, signal.SIGTERM)
        thread.join(60)
        started[0].signalled = signalled
        return started[0]

    def adopt(self, name: str) -> Container:
        """A container started otherwise (a documented command), removed at the end too."""
        container = Container(self.engine, name)
        self.started.append(container)
        return container

    def close(self) -> None:
        for container in self.started:
            print(f"--- logs of {container.name}:\n{container.logs()[-4000:]}")
            container.remove()

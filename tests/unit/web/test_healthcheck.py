"""The container's health check follows the exporter's scheme: HTTP, or HTTPS with TLS on."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType

import pytest

from exporter.core.model import Snapshot
from exporter.web import healthcheck
from exporter.web.handlers import ExporterServer, WebApp
from exporter.web.tlsconfig import load_web_config
from tests.paths import ROOT
from tests.unit.web.test_webconfig import Pki, pki  # noqa: F401 (the session's PKI fixture)


@contextlib.contextmanager
def serve(web_config: Path | None) -> Iterator[int]:
    web = load_web_config(web_config) if web_config else None
    app = WebApp(
        lambda accept, names: ([b""], "text/plain"), lambda: Snapshot(MappingProxyType({}))
    )
    server = ExporterServer(("127.0.0.1", 0), app, web)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_config(tmp_path: Path, pki: Pki) -> Path:  # noqa: F811
    path = tmp_path / "web.yaml"
    path.write_text(
        f"tls_server_config: {{cert_file: {pki.server_cert}, key_file: {pki.server_key}}}\n"
        "basic_auth_users: {}\n"
    )
    return path


def test_plain_http(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(None) as port:
        assert healthcheck.main(["--web.listen-address", f"127.0.0.1:{port}"]) == 0


def test_https_when_the_web_config_turns_tls_on(tls_config: Path) -> None:
    with serve(tls_config) as port:
        flags = ["--web.listen-address", f":{port}", "--web.config.file", str(tls_config)]
        assert healthcheck.main(flags) == 0
        # What the old plain-HTTP check did fails against a TLS listener.
        assert healthcheck.main(["--web.listen-address", f":{port}"]) == 1


def test_nothing_listening_is_unhealthy(capsys: pytest.CaptureFixture[str]) -> None:
    with serve(None) as port:
        pass  # closed again: the port is free
    assert healthcheck.main(["--web.listen-address", f"127.0.0.1:{port}"]) == 1
    assert "unhealthy: ConnectionRefusedError" in capsys.readouterr().err


def test_other_flags_of_the_exporter_are_ignored() -> None:
    args = healthcheck.exporter_args(["/usr/local/bin/cleanrooms-exporter", "--config.file=x.yaml"])
    assert args.listen == ":19431"


def test_the_dockerfile_uses_it() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["python", "-m", "exporter.web.healthcheck"]' in dockerfile
    assert "http://127.0.0.1:19431" not in dockerfile


def proc_tree(tmp_path: Path, *command_lines: list[str]) -> Path:
    """A /proc with one process per command line, numbered 1, 2, ..."""
    for pid, words in enumerate(command_lines, start=1):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "cmdline").write_bytes(b"".join(w.encode() + b"\0" for w in words))
    (tmp_path / "self").mkdir()  # not a process: skipped
    return tmp_path


SCRIPT = ["/usr/local/bin/python3.11", "/usr/local/bin/cleanrooms-exporter"]


@pytest.mark.parametrize(
    ("process_one", "listen"),
    [
        ([*SCRIPT, "--web.listen-address=:9999"], ":9999"),  # the exporter is process 1
        (["/run/podman-init", "--", "cleanrooms-exporter", "--web.listen-address=:9999"], ":9999"),
        (["/sbin/docker-init", "--", *SCRIPT, "--web.listen-address", ":9998"], ":9998"),
        (["/sbin/tini", "-s", "-g", "--", *SCRIPT, "--web.listen-address=:9997"], ":9997"),
        (["dumb-init", "python", "-m", "exporter", "--web.listen-address=:9996"], ":9996"),
        (["/bin/sh", "-c", "sleep 1"], ":19431"),  # no exporter anywhere: the default
    ],
)
def test_the_exporters_flags_under_an_init_or_none(
    tmp_path: Path, process_one: list[str], listen: str
) -> None:
    proc = proc_tree(tmp_path, process_one)
    assert healthcheck.exporter_args([], proc).listen == listen


def test_the_exporter_behind_a_shell_that_did_not_exec(tmp_path: Path) -> None:
    shell = ["/bin/sh", "-c", "cleanrooms-exporter --web.listen-address=:9999"]
    proc = proc_tree(tmp_path, shell, ["/usr/bin/python3", "-m", "exporter.web.healthcheck"])
    (tmp_path / "3").mkdir()  # a process that exited while we looked: no cmdline
    (tmp_path / "12").mkdir()
    args = [*SCRIPT, "--web.listen-address", ":9995", "--web.config.file", "/w.yaml"]
    (tmp_path / "12" / "cmdline").write_bytes(b"\0".join(a.encode() for a in args) + b"\0")
    found = healthcheck.exporter_args([], proc)
    assert (found.listen, found.web_config_file) == (":9995", "/w.yaml")


def test_flags_given_win_over_the_exporters(tmp_path: Path) -> None:
    proc = proc_tree(tmp_path, [*SCRIPT, "--web.listen-address=:9999"])
    assert healthcheck.exporter_args(["--web.listen-address=:1234"], proc).listen == ":1234"

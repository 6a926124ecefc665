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
    app = WebApp(lambda accept, names: (b"", "text/plain"), lambda: Snapshot(MappingProxyType({})))
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

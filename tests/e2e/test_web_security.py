"""--web.config.file end to end: basic auth on every endpoint but /-/healthy, TLS, client certs."""

from __future__ import annotations

import base64
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.e2e.test_cli import free_port
from tests.faultproxy import wait_for
from tests.unit.web.test_webconfig import Pki, pki  # noqa: F401  (the session-scoped PKI fixture)

PASSWORD = "correct horse battery staple"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Served:
    def __init__(self, web_config: Path, scheme: str) -> None:
        self.port = free_port()
        self.base = f"{scheme}://localhost:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "--demo",
                "--web.config.file",
                str(web_config),
                "--web.listen-address",
                f"127.0.0.1:{self.port}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        auth: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> int:
        request = urllib.request.Request(f"{self.base}{path}", method=method)
        if auth:
            request.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return err.code

    def close(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=15)
        assert self.proc.returncode == 0, err
        return err


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    running: list[Served] = []

    def start(text: str, scheme: str = "http", probe: ssl.SSLContext | None = None) -> Served:
        path = tmp_path / "web.yml"
        path.write_text(text)
        served = Served(path, scheme)
        running.append(served)

        def up() -> bool:
            if served.proc.poll() is not None:
                raise AssertionError(served.proc.communicate()[1])
            try:
                return served.request("/-/healthy", context=probe) == 200
            except OSError:
                return False

        wait_for(up, timeout=60)
        return served

    yield start
    for served in running:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.communicate()


def test_basic_auth_guards_everything_but_health(serve) -> None:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    served = serve(f"basic_auth_users:\n  ops: '{hashed}'\n")
    good, bad = basic("ops", PASSWORD), basic("ops", "wrong")
    assert served.request("/-/healthy") == 200
    for path in ("/metrics", "/", "/-/ready"):
        assert served.request(path) == 401, path
        assert served.request(path, auth=bad) == 401, path
        assert served.request(path, auth=basic("nobody", PASSWORD)) == 401, path
    wait_for(lambda: served.request("/-/ready", auth=good) == 200, timeout=60)
    assert served.request("/metrics", auth=good) == 200
    assert served.request("/", auth=good) == 200
    assert served.request("/-/reload", method="POST") == 401
    logs = served.close()
    assert PASSWORD not in logs
    assert hashed not in logs


def client_context(keys: Pki, with_cert: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(keys.ca))
    if with_cert:
        context.load_cert_chain(*map(str, keys.client))
    return context


def test_tls_without_client_certificates(serve, pki: Pki) -> None:  # noqa: F811
    text = f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
    probe = client_context(pki, with_cert=False)
    served = serve(text, "https", probe)
    assert served.request("/metrics", context=probe) == 200
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP gets no answer
        urllib.request.urlopen(f"http://localhost:{served.port}/metrics", timeout=5)
    served.close()


def test_tls_requiring_verified_client_certificates(serve, pki: Pki) -> None:  # noqa: F811
    text = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {pki.ca}\n"
    )
    with_cert = client_context(pki, with_cert=True)
    served = serve(text, "https", with_cert)
    assert served.request("/metrics", context=with_cert) == 200
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        served.request("/metrics", context=client_context(pki, with_cert=False))
    served.close()


def test_invalid_web_config_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  ops: plaintext\ntls_server_config:\n  cert_file: x\n")
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--web.config.file", str(path), "--config.check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 2
    assert "basic_auth_users.ops" in result.stderr
    assert "tls_server_config" in result.stderr
    assert "Traceback" not in result.stderr

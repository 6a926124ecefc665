"""The web config file: validation, TLS on real loopback sockets, and basic auth."""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import ipaddress
import re
import shutil
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporter.config import ConfigError
from exporter.web.auth import NEEDS_BCRYPT, BasicAuth
from exporter.web.tls import LazyTLSMixin, wrap_server_socket
from exporter.web.tlsconfig import TLSSettings, WebConfig, build_ssl_context, load_web_config

# ---------------------------------------------------------------------------
# A throw-away PKI, made once per session.

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Pki:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client: tuple[Path, Path]
    rogue_client: tuple[Path, Path]  # signed by a CA the server does not trust
    other_key: Path
    encrypted_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    cn: str, key: Key, issuer: tuple[x509.Certificate, Key] | None, usage: str | None
) -> x509.Certificate:
    """A CA certificate when ``usage`` is None, else a leaf for ``server`` or ``client``."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (_name(cn), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=usage is None, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if usage is None:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), True
        )
    elif usage == "server":
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False
        )
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key: Key, password: bytes | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
    if password:
        encryption = serialization.BestAvailableEncryption(password)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.write_bytes(pem)
    return path


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _leaf(d: Path, name: str, usage: str, ca: tuple[x509.Certificate, Key]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(name, key, ca, usage)
    return _write_cert(d / f"{name}.crt", cert), _write_key(d / f"{name}.key", key)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key, rogue_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = (_issue("test ca", ca_key, None, None), ca_key)
    rogue = (_issue("rogue ca", rogue_key, None, None), rogue_key)
    server_cert, server_key = _leaf(d, "server", "server", ca)
    server_private = serialization.load_pem_private_key(server_key.read_bytes(), None)
    assert isinstance(server_private, ec.EllipticCurvePrivateKey)
    return Pki(
        dir=d,
        ca=_write_cert(d / "ca.crt", ca[0]),
        server_cert=server_cert,
        server_key=server_key,
        client=_leaf(d, "client", "client", ca),
        rogue_client=_leaf(d, "rogue", "client", rogue),
        other_key=_write_key(d / "other.key", ec.generate_private_key(ec.SECP256R1())),
        encrypted_key=_write_key(d / "encrypted.key", server_private, b"secret"),
    )


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_web_config(path)
    return info.value.problems


def tls_config(tmp_path: Path, pki: Pki, client_auth: str, ca: bool = True) -> WebConfig:
    lines = [
        "tls_server_config:",
        f"  cert_file: {pki.server_cert}",
        f"  key_file: {pki.server_key}",
        f"  client_auth_type: {client_auth}",
    ]
    if ca:
        lines.append(f"  client_ca_file: {pki.ca}")
    return load_web_config(write_config(tmp_path, "\n".join(lines) + "\n"))


# ---------------------------------------------------------------------------
# Validation.


def test_empty_file_is_plain_http_without_auth(tmp_path: Path) -> None:
    config = load_web_config(write_config(tmp_path, "# nothing\n"))
    assert config == WebConfig()
    assert build_ssl_context(config) is None


def test_relative_paths_resolve_against_the_config_directory(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    for source in (pki.server_cert, pki.server_key, pki.ca):
        shutil.copy(source, conf / source.name)
    text = (
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n"
        "  min_version: TLS13\n"
    )
    monkeypatch.chdir(tmp_path)  # a different directory, where server.crt does not exist
    config = load_web_config(write_config(conf, text))
    assert config.tls == TLSSettings(
        cert_file=conf / "server.crt",
        key_file=conf / "server.key",
        client_auth_type="VerifyClientCertIfGiven",
        client_ca_file=conf / "ca.crt",
        min_version="TLS13",
    )
    context = build_ssl_context(config)
    assert context is not None
    assert context.verify_mode == ssl.CERT_OPTIONAL
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3


@pytest.mark.parametrize(
    ("client_auth", "mode"),
    [
        ("NoClientCert", ssl.CERT_NONE),
        ("RequestClientCert", ssl.CERT_OPTIONAL),
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
        ("RequireAnyClientCert", ssl.CERT_REQUIRED),
        ("RequireClientCert", ssl.CERT_REQUIRED),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_type_maps_to_verify_mode(
    tmp_path: Path, pki: Pki, client_auth: str, mode: ssl.VerifyMode
) -> None:
    config = tls_config(tmp_path, pki, client_auth, ca=client_auth != "NoClientCert")
    context = build_ssl_context(config)
    assert context is not None
    assert context.verify_mode == mode
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2


EVERY_PROBLEM = """
surprise: 1
rate_limit: {interval: 1s, burst: 5}
tls_server_config:
  cert_file: missing.crt
  cert: "-----BEGIN CERTIFICATE-----"
  cipher_suites: [TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519]
  prefer_server_cipher_suites: true
  client_allowed_sans: [client.example]
  client_auth_type: Sometimes
  min_version: TLS11
  max_version: 13
  extra: true
http_server_config:
  http2: true
  colour: blue
  headers:
    X-Frame-Options: allow
    X-Custom: hello
    Content-Security-Policy: "a\\nb"
basic_auth_users:
  alice: not-a-hash
  "bo:b": $2b$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  42: $2b$04$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
  carol: $2b$99$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
"""


def test_every_structural_problem_is_reported_with_its_path(tmp_path: Path) -> None:
    problems = problems_of(write_config(tmp_path, EVERY_PROBLEM))
    expected = {
        "surprise": "unknown key",
        "rate_limit": "not supported",
        "tls_server_config.cert": "not supported (inline PEM)",
        "tls_server_config.cipher_suites": "not supported",
        "tls_server_config.curve_preferences": "not supported",
        "tls_server_config.prefer_server_cipher_suites": "not supported",
        "tls_server_config.client_allowed_sans": "not supported",
        "tls_server_config.extra": "unknown key",
        "tls_server_config.key_file": "missing",
        "tls_server_config.cert_file": f"cannot read {tmp_path / 'missing.crt'}",
        "tls_server_config.client_auth_type": "must be one of NoClientCert,",
        "tls_server_config.min_version": "TLS11 is not supported",
        "tls_server_config.max_version": "must be one of TLS12, TLS13, got 13",
        "http_server_config.http2": "not supported",
        "http_server_config.colour": "unknown key",
        "http_server_config.headers.X-Frame-Options": "must be one of deny, sameorigin",
        "http_server_config.headers.X-Custom": "cannot be set",
        "http_server_config.headers.Content-Security-Policy": "without control characters",
        "basic_auth_users.alice": "not a bcrypt hash",
        "basic_auth_users.bo:b": "without ':'",
        "basic_auth_users.42": "must be a non-empty string",
        "basic_auth_users.carol": "cost must be between 4 and 31",
    }
    assert len(problems) == len(expected), problems
    for path, fragment in expected.items():
        # A key that is not in the file's vocabulary is reported with its line.
        assert any(
            re.sub(r"^line \d+: ", "", p).startswith(f"{path}: ") and fragment in p
            for p in problems
        ), (path, problems)
    assert "line 2: surprise: unknown key" in problems


def test_wrong_section_types_are_reported(tmp_path: Path) -> None:
    text = "tls_server_config: yes\nhttp_server_config: [1]\nbasic_auth_users: alice\n"
    assert problems_of(write_config(tmp_path, text)) == [
        "tls_server_config: must be a mapping",
        "basic_auth_users: must be a mapping",
        "http_server_config: must be a mapping",
    ]


def test_wrong_value_types_are_reported(tmp_path: Path, pki: Pki) -> None:
    text = f"tls_server_config:\n  cert_file: 12\n  key_file: {pki.server_key}\n"
    text += "  client_auth_type: [NoClientCert]\n  min_version: {TLS12: 1}\n"
    text += "http_server_config:\n  headers:\n    X-XSS-Protection: 1\n"
    assert problems_of(write_config(tmp_path, text)) == [
        "tls_server_config.cert_file: must be a non-empty string, got 12",
        "tls_server_config.client_auth_type: must be one of NoClientCert, RequestClientCert, "
        "VerifyClientCertIfGiven, RequireAnyClientCert, RequireAndVerifyClientCert",
        "tls_server_config.min_version: must be one of TLS12, TLS13, got {'TLS12': 1}",
        "http_server_config.headers.X-XSS-Protection: must be a string without control characters",
    ]


def test_unusable_files_are_reported_with_their_paths(tmp_path: Path, pki: Pki) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    text = (
        f"tls_server_config:\n  cert_file: {garbage}\n  key_file: {pki.server_key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n"
    )
    assert problems_of(write_config(tmp_path, text)) == [
        f"tls_server_config.cert_file: no PEM certificate in {garbage}",
        "tls_server_config.client_ca_file: required with client_auth_type "
        "RequireAndVerifyClientCert",
    ]


def test_key_mismatch_and_ca_without_client_auth(tmp_path: Path, pki: Pki) -> None:
    text = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.other_key}\n"
        f"  client_ca_file: {pki.server_key}\n"
    )
    assert problems_of(write_config(tmp_path, text)) == [
        "tls_server_config.key_file: does not match the certificate in cert_file",
        "tls_server_config.client_ca_file: set, but client_auth_type is NoClientCert",
    ]


def test_unreadable_key_bad_ca_and_version_order(tmp_path: Path, pki: Pki) -> None:
    text = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {tmp_path}\n"
        f"  client_auth_type: RequestClientCert\n  client_ca_file: {pki.server_key}\n"
        "  min_version: TLS13\n  max_version: TLS12\n"
    )
    problems = problems_of(write_config(tmp_path, text))
    assert problems[0] == "tls_server_config.min_version: is above max_version"
    assert problems[1].startswith(f"tls_server_config.key_file: cannot read {tmp_path}: ")
    assert (
        problems[2] == f"tls_server_config.client_ca_file: no PEM certificate in {pki.server_key}"
    )
    assert len(problems) == 3


def test_missing_key_file_still_checks_the_ca(tmp_path: Path, pki: Pki) -> None:
    text = (
        f"tls_server_config:\n  cert_file: {pki.server_cert}\n"
        "  client_auth_type: RequireAnyClientCert\n"
    )
    assert problems_of(write_config(tmp_path, text)) == [
        "tls_server_config.key_file: missing (required for TLS)",
        "tls_server_config.client_ca_file: required with client_auth_type RequireAnyClientCert",
    ]


def test_encrypted_key_is_refused_without_prompting(tmp_path: Path, pki: Pki) -> None:
    text = f"tls_server_config:\n  cert_file: {pki.server_cert}\n  key_file: {pki.encrypted_key}\n"
    assert problems_of(write_config(tmp_path, text)) == [
        f"tls_server_config.key_file: {pki.encrypted_key} is encrypted; use an unencrypted key"
    ]


def test_a_lone_tls_setting_is_not_dropped(tmp_path: Path) -> None:
    problems = problems_of(write_config(tmp_path, "tls_server_config:\n  min_version: TLS13\n"))
    assert problems == [
        "tls_server_config.cert_file: missing (required for TLS)",
        "tls_server_config.key_file: missing (required for TLS)",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: [", "line 1, column 5: yaml: "),
        ("- 1\n", "top level: must be a mapping"),
    ],
)
def test_unparseable_files(tmp_path: Path, text: str, problem: str) -> None:
    assert problems_of(write_config(tmp_path, text))[0].startswith(problem)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    assert problems_of(missing) == ["cannot read: No such file or directory"]
    with pytest.raises(ConfigError, match=f"invalid configuration in {missing}:"):
        load_web_config(missing)


def test_headers_are_kept_and_blank_ones_dropped(tmp_path: Path) -> None:
    text = (
        "http_server_config:\n  http2: false\n  headers:\n"
        "    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000\n"
        "    X-XSS-Protection: ''\n"
    )
    config = load_web_config(write_config(tmp_path, text))
    assert dict(config.headers) == {
        "X-Frame-Options": "deny",
        "Strict-Transport-Security": "max-age=31536000",
    }


def test_users_are_loaded(tmp_path: Path) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    config = load_web_config(write_config(tmp_path, f"basic_auth_users:\n  alice: '{hashed}'\n"))
    assert dict(config.users) == {"alice": hashed}
    assert BasicAuth(config.users).check(basic("alice", "pw"))


def test_users_without_bcrypt_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    monkeypatch.setitem(sys.modules, "bcrypt", None)  # makes `import bcrypt` fail
    path = write_config(tmp_path, f"basic_auth_users:\n  alice: '{hashed}'\n")
    assert problems_of(path) == [f"basic_auth_users: {NEEDS_BCRYPT}"]
    with pytest.raises(RuntimeError, match="bcrypt"):
        BasicAuth({"alice": hashed})


# ---------------------------------------------------------------------------
# TLS on real sockets.


class _Server(LazyTLSMixin, ThreadingHTTPServer):
    daemon_threads = True


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@contextlib.contextmanager
def serve(context: ssl.SSLContext, handshake_timeout: float = 10.0) -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Hello)
    server.tls_handshake_timeout = handshake_timeout
    wrap_server_socket(server, context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def https_get(
    port: int, pki: Pki, client: tuple[Path, Path] | None = None, timeout: float = 5.0
) -> int:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if client:
        context.load_cert_chain(*client)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=timeout)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.read() == b"hello\n"
        return response.status
    finally:
        conn.close()


def server_context(tmp_path: Path, pki: Pki, client_auth: str) -> ssl.SSLContext:
    config = tls_config(tmp_path, pki, client_auth, ca=client_auth != "NoClientCert")
    context = build_ssl_context(config)
    assert context is not None
    return context


_REJECTED = (ssl.SSLError, ConnectionError)


def test_tls_without_client_certificates(tmp_path: Path, pki: Pki) -> None:
    with serve(server_context(tmp_path, pki, "NoClientCert")) as port:
        assert https_get(port, pki) == 200


def test_require_and_verify_client_cert(tmp_path: Path, pki: Pki) -> None:
    with serve(server_context(tmp_path, pki, "RequireAndVerifyClientCert")) as port:
        with pytest.raises(_REJECTED):
            https_get(port, pki)
        with pytest.raises(_REJECTED):
            https_get(port, pki, pki.rogue_client)
        assert https_get(port, pki, pki.client) == 200


def test_verify_client_cert_if_given(tmp_path: Path, pki: Pki) -> None:
    with serve(server_context(tmp_path, pki, "VerifyClientCertIfGiven")) as port:
        assert https_get(port, pki) == 200
        assert https_get(port, pki, pki.client) == 200
        with pytest.raises(_REJECTED):
            https_get(port, pki, pki.rogue_client)


def test_require_any_client_cert_is_enforced_not_downgraded(tmp_path: Path, pki: Pki) -> None:
    # Python cannot skip verification, so "any" becomes "verified"; it must
    # never become "optional".
    with serve(server_context(tmp_path, pki, "RequireAnyClientCert")) as port:
        with pytest.raises(_REJECTED):
            https_get(port, pki)
        assert https_get(port, pki, pki.client) == 200


def test_a_silent_client_does_not_block_others(tmp_path: Path, pki: Pki) -> None:
    with serve(server_context(tmp_path, pki, "NoClientCert")) as port:
        silent = socket.create_connection(("127.0.0.1", port))
        try:
            time.sleep(0.1)  # let the server accept it first
            assert https_get(port, pki, timeout=2.0) == 200
        finally:
            silent.close()


def test_a_silent_client_is_dropped_after_the_handshake_timeout(tmp_path: Path, pki: Pki) -> None:
    context = server_context(tmp_path, pki, "NoClientCert")
    with (
        serve(context, handshake_timeout=0.3) as port,
        socket.create_connection(("127.0.0.1", port), timeout=3.0) as silent,
    ):
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the server, not by our timeout
        assert time.monotonic() - started < 2.0


def test_a_failed_handshake_is_quiet_and_harmless(
    tmp_path: Path, pki: Pki, capfd: pytest.CaptureFixture[str]
) -> None:
    with serve(server_context(tmp_path, pki, "NoClientCert")) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=3.0) as plain:
            plain.sendall(b"GET / HTTP/1.0\r\n\r\n")
            with contextlib.suppress(ConnectionError):
                while plain.recv(1024):
                    pass
        assert https_get(port, pki) == 200
    assert "Traceback" not in capfd.readouterr().err


# ---------------------------------------------------------------------------
# Basic auth.


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def alice_hash() -> str:
    return bcrypt.hashpw("s3cret:ä".encode(), bcrypt.gensalt(4)).decode()


class CountingCheck:
    """The real bcrypt check, recording which hashes it was asked about."""

    def __init__(self) -> None:
        self.hashes: list[bytes] = []

    def __call__(self, password: bytes, hashed: bytes) -> bool:
        self.hashes.append(hashed)
        return bcrypt.checkpw(password, hashed)


def test_basic_auth_right_and_wrong(alice_hash: str) -> None:
    auth = BasicAuth({"alice": alice_hash})
    assert auth.check(basic("alice", "s3cret:ä"))
    assert auth.check(
        "basic " + basic("alice", "s3cret:ä").split(" ", 1)[1]
    )  # scheme is case-insensitive
    assert not auth.check(basic("alice", "s3cret"))
    assert not auth.check(basic("bob", "s3cret:ä"))
    assert not auth.check(None)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic YWxpY2U",  # unpadded "alice"
        "Basic " + base64.b64encode(b"alice").decode(),  # no colon
        "Bearer " + base64.b64encode("alice:s3cret:ä".encode()).decode(),
        "Basic " + base64.b64encode(b"alice:\xff\xfe").decode(),  # not UTF-8
        "Basic ÿÿÿÿ",  # not ASCII
        "Basic " + base64.b64encode(b"\x00:\x00").decode(),
    ],
)
def test_malformed_headers_are_refused_quietly(alice_hash: str, header: str) -> None:
    assert BasicAuth({"alice": alice_hash}).check(header) is False


def test_unknown_users_cost_a_bcrypt_check_too(alice_hash: str) -> None:
    check = CountingCheck()
    auth = BasicAuth({"alice": alice_hash}, checkpw=check)
    assert not auth.check(basic("mallory", "s3cret:ä"))
    assert len(check.hashes) == 1
    assert check.hashes[0] != alice_hash.encode()
    assert check.hashes[0][:7] == alice_hash.encode()[:7]  # same variant and cost


def test_successes_are_cached_and_failures_are_not(alice_hash: str) -> None:
    check = CountingCheck()
    auth = BasicAuth({"alice": alice_hash}, checkpw=check)
    assert auth.check(basic("alice", "s3cret:ä"))
    assert auth.check(basic("alice", "s3cret:ä"))
    assert len(check.hashes) == 1
    assert not auth.check(basic("alice", "wrong"))
    assert not auth.check(basic("alice", "wrong"))
    assert len(check.hashes) == 3
    assert auth.check(basic("alice", "s3cret:ä"))
    assert len(check.hashes) == 3


def test_passwords_longer_than_72_bytes_match_like_htpasswd() -> None:
    password = "x" * 80
    hashed = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4)).decode()
    assert BasicAuth({"alice": hashed}).check(basic("alice", password))


def test_a_hash_bcrypt_rejects_is_a_refusal_not_an_error() -> None:
    # load_web_config would have refused this hash; BasicAuth must still not raise.
    assert BasicAuth({"alice": "$2b$04$" + "!" * 53}).check(basic("alice", "x")) is False


def test_an_unknown_user_is_refused_whatever_the_check_says(alice_hash: str) -> None:
    auth = BasicAuth({"alice": alice_hash}, checkpw=lambda password, hashed: True)
    assert auth.check(basic("alice", "anything"))
    assert not auth.check(basic("mallory", "anything"))

"""The ``--web.config.file``: TLS, basic auth and extra headers, in exporter-toolkit's format.

The file format is Prometheus exporter-toolkit's (``docs/web-configuration.md``)
so operators can reuse what they know. Options Python's ``ssl`` module or
``http.server`` cannot honour are rejected with a problem, never ignored.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from exporter.config.parser import ConfigError, Parser, read_text, read_yaml
from exporter.web.auth import BCRYPT_RE, NEEDS_BCRYPT, bcrypt_cost, bcrypt_module

log = logging.getLogger(__name__)

# Python's ssl cannot ask for a client certificate without verifying it, so the
# two unverified exporter-toolkit modes map to the nearest *stricter* mode and
# need client_ca_file: RequestClientCert verifies a certificate when one is
# sent; RequireAnyClientCert requires one and verifies it (CERT_OPTIONAL would
# silently let clients without a certificate in).
CLIENT_AUTH_TYPES: Mapping[str, ssl.VerifyMode] = MappingProxyType(
    {
        "NoClientCert": ssl.CERT_NONE,
        "RequestClientCert": ssl.CERT_OPTIONAL,
        "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
        "RequireAnyClientCert": ssl.CERT_REQUIRED,
        "RequireClientCert": ssl.CERT_REQUIRED,  # exporter-toolkit's old name for the above
        "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
    }
)
TLS_VERSIONS: Mapping[str, ssl.TLSVersion] = MappingProxyType(
    {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
)
# The headers exporter-toolkit allows, with its allowed values (empty: any value).
HEADER_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Strict-Transport-Security": (),
        "X-Content-Type-Options": ("nosniff",),
        "X-Frame-Options": ("deny", "sameorigin"),
        "X-XSS-Protection": (),
        "Content-Security-Policy": (),
    }
)

_TOP_KEYS = frozenset({"tls_server_config", "http_server_config", "basic_auth_users"})
_TLS_KEYS = frozenset(
    {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
)
_HTTP_KEYS = frozenset({"headers", "http2"})
_UNSUPPORTED = MappingProxyType(
    {
        "rate_limit": "not supported by this exporter; remove it",
        "tls_server_config.cert": "not supported (inline PEM); put it in a file, use cert_file",
        "tls_server_config.key": "not supported (inline PEM); put it in a file, use key_file",
        "tls_server_config.client_ca": "not supported (inline PEM); use client_ca_file",
        "tls_server_config.cipher_suites": "not supported; OpenSSL's default ciphers apply",
        "tls_server_config.curve_preferences": "not supported; OpenSSL's default curves apply",
        "tls_server_config.prefer_server_cipher_suites": "not supported; remove it",
        "tls_server_config.client_allowed_sans": "not supported; restrict with client_ca_file",
    }
)
_OLD_TLS = ("TLS10", "TLS11")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class TLSSettings:
    """Server TLS: certificate, key, client-certificate policy and protocol range."""

    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"


@dataclass(frozen=True)
class WebConfig:
    """The validated web configuration; the defaults mean plain HTTP, no auth."""

    tls: TLSSettings | None = None
    users: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def load_web_config(path: str | Path) -> WebConfig:
    """Read and validate a web config file, loading its certificates; raise ``ConfigError``."""
    path = Path(path)
    text = read_text(path)
    try:
        return parse_web_config(text, path.parent)
    except ConfigError as err:
        raise err.in_file(path) from None


def parse_web_config(text: str, base_dir: Path) -> WebConfig:
    """Validate YAML text; relative file names resolve against ``base_dir``."""
    lines: dict[str, int] = {}
    raw = read_yaml(text, lines)
    if not isinstance(raw, dict):
        raise ConfigError(["top level: must be a mapping"])
    problems: list[str] = []
    config = _WebParser(problems, base_dir, lines).config(raw)
    if problems:
        raise ConfigError(problems)
    return config


def build_ssl_context(config: WebConfig) -> ssl.SSLContext | None:
    """The server-side context for ``config``, or ``None`` for plain HTTP."""
    if config.tls is None:
        return None
    problems: list[str] = []
    context = _make_context(config.tls, problems)
    if problems or context is None:
        raise ConfigError(problems)
    return context


class _WebParser(Parser):
    """The web configuration file's sections; files are relative to its folder."""

    def __init__(
        self, problems: list[str], base_dir: Path, lines: Mapping[str, int] | None = None
    ) -> None:
        super().__init__(problems, lines)
        self.base_dir = base_dir

    def config(self, raw: dict[Any, Any]) -> WebConfig:
        self.keys(raw, _TOP_KEYS, "")
        return WebConfig(
            tls=self.tls(self.mapping(raw, "tls_server_config")),
            users=MappingProxyType(self.users(self.mapping(raw, "basic_auth_users"))),
            headers=MappingProxyType(self.http(self.mapping(raw, "http_server_config"))),
        )

    def keys(self, raw: dict[Any, Any], allowed: frozenset[str], path: str) -> None:
        self.unknown_keys(raw, allowed, path, _UNSUPPORTED)

    def tls(self, raw: dict[Any, Any]) -> TLSSettings | None:
        # An empty section means plain HTTP (as in exporter-toolkit); any
        # setting in it means TLS, so a lone min_version is not silently dropped.
        if not raw:
            return None
        path = "tls_server_config"
        self.keys(raw, _TLS_KEYS, path)
        cert, key = self.file(raw, "cert_file", True), self.file(raw, "key_file", True)
        # Placeholders keep the other checks going; incomplete settings are not returned.
        settings = TLSSettings(
            cert_file=cert or Path(),
            key_file=key or Path(),
            client_auth_type=self.client_auth(raw),
            client_ca_file=self.file(raw, "client_ca_file", False),
            min_version=self.version(raw, "min_version", "TLS12"),
            max_version=self.version(raw, "max_version", "TLS13"),
        )
        if TLS_VERSIONS[settings.min_version] > TLS_VERSIONS[settings.max_version]:
            self.problem(f"{path}.min_version", "is above max_version")
        complete = cert is not None and key is not None
        if not complete:
            self.lone_files(cert, key)
        _make_context(settings, self.problems, with_chain=complete)
        return settings if complete else None

    def lone_files(self, cert: Path | None, key: Path | None) -> None:
        """Check whichever of cert_file and key_file was given when the other is missing."""
        if cert is not None:
            _load_certificates(None, cert, "tls_server_config.cert_file", self.problems)
        if key is not None:
            _readable(key, "tls_server_config.key_file", self.problems)

    def file(self, raw: dict[Any, Any], key: str, required: bool) -> Path | None:
        name = self.string(raw, key, "tls_server_config")
        if name is None:
            if required and key not in raw:
                self.problem(f"tls_server_config.{key}", "missing (required for TLS)")
            return None
        return self.base_dir / name

    def client_auth(self, raw: dict[Any, Any]) -> str:
        value = raw.get("client_auth_type", "NoClientCert")
        if not isinstance(value, str) or value not in CLIENT_AUTH_TYPES:
            choices = ", ".join(k for k in CLIENT_AUTH_TYPES if k != "RequireClientCert")
            self.problem("tls_server_config.client_auth_type", f"must be one of {choices}")
            return "NoClientCert"
        return str(value)

    def version(self, raw: dict[Any, Any], key: str, default: str) -> str:
        value = raw.get(key, default)
        if isinstance(value, str) and value in TLS_VERSIONS:
            return value
        where = f"tls_server_config.{key}"
        if value in _OLD_TLS:
            self.problem(where, f"{value} is not supported (deprecated in Python's ssl)")
        else:
            self.problem(where, f"must be one of {', '.join(TLS_VERSIONS)}, got {value!r}")
        return default

    def users(self, raw: dict[Any, Any]) -> dict[str, str]:
        users: dict[str, str] = {}
        for user, hashed in raw.items():
            where = f"basic_auth_users.{user}"
            if not isinstance(user, str) or not user or ":" in user:
                self.problem(where, "user name must be a non-empty string without ':'")
            elif not isinstance(hashed, str) or not BCRYPT_RE.match(hashed):
                self.problem(where, "not a bcrypt hash (make one with htpasswd -nBC 10 '')")
            elif not 4 <= bcrypt_cost(hashed) <= 31:
                self.problem(where, "bcrypt cost must be between 4 and 31")
            else:
                users[user] = hashed
        if raw and bcrypt_module() is None:
            self.problem("basic_auth_users", NEEDS_BCRYPT)
        return users

    def http(self, raw: dict[Any, Any]) -> dict[str, str]:
        self.keys(raw, _HTTP_KEYS, "http_server_config")
        if raw.get("http2", False) is not False:
            self.problem("http_server_config.http2", "not supported (HTTP/1.1 only); set false")
        headers: dict[str, str] = {}
        for name, value in self.mapping(raw, "headers", "http_server_config.").items():
            where = f"http_server_config.headers.{name}"
            allowed = HEADER_VALUES.get(name)
            if allowed is None:
                self.problem(where, f"cannot be set; allowed: {', '.join(HEADER_VALUES)}")
            elif not isinstance(value, str) or _CONTROL_RE.search(value):
                self.problem(where, "must be a string without control characters")
            elif allowed and value not in allowed:
                self.problem(where, f"must be one of {', '.join(allowed)}, got {value!r}")
            elif value:  # blank means unset, as in exporter-toolkit
                headers[name] = value
        return headers


class _EncryptedKeyError(Exception):
    """Raised from the password callback so OpenSSL never prompts on a terminal."""


def _refuse_password() -> str:
    raise _EncryptedKeyError


def _make_context(
    tls: TLSSettings, problems: list[str], *, with_chain: bool = True
) -> ssl.SSLContext | None:
    """Build the server context, appending a problem per unusable file or setting."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS.get(tls.min_version, ssl.TLSVersion.TLSv1_2)
    context.maximum_version = TLS_VERSIONS.get(tls.max_version, ssl.TLSVersion.TLSv1_3)
    ok = _load_chain(context, tls, problems) if with_chain else False
    verify_mode = CLIENT_AUTH_TYPES.get(tls.client_auth_type, ssl.CERT_NONE)
    where = "tls_server_config.client_ca_file"
    if tls.client_ca_file is None:
        if verify_mode != ssl.CERT_NONE:
            problems.append(f"{where}: required with client_auth_type {tls.client_auth_type}")
            ok = False
    elif verify_mode == ssl.CERT_NONE:
        problems.append(f"{where}: set, but client_auth_type is NoClientCert")
        ok = False
    elif not _load_certificates(context, tls.client_ca_file, where, problems):
        ok = False
    context.verify_mode = verify_mode
    return context if ok else None


def _load_chain(context: ssl.SSLContext, tls: TLSSettings, problems: list[str]) -> bool:
    where = "tls_server_config.key_file"
    cert_ok = _load_certificates(None, tls.cert_file, "tls_server_config.cert_file", problems)
    if not (_readable(tls.key_file, where, problems) and cert_ok):
        return False
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file, password=_refuse_password)
    except _EncryptedKeyError:
        problems.append(f"{where}: {tls.key_file} is encrypted; use an unencrypted key")
    except ssl.SSLError as err:
        if err.reason == "KEY_VALUES_MISMATCH":
            problems.append(f"{where}: does not match the certificate in cert_file")
        else:
            problems.append(f"{where}: no usable PEM private key in {tls.key_file}")
    else:
        return True
    return False


def _load_certificates(
    context: ssl.SSLContext | None, path: Path, where: str, problems: list[str]
) -> bool:
    """Load PEM certificates into ``context`` (a scratch one if ``None``) as trust anchors."""
    if not _readable(path, where, problems):
        return False
    try:
        (context or ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)).load_verify_locations(cafile=path)
    except ssl.SSLError:
        problems.append(f"{where}: no PEM certificate in {path}")
        return False
    return True


def _readable(path: Path, where: str, problems: list[str]) -> bool:
    # ssl's own errors for a missing file are bare errno texts without the name.
    try:
        with path.open("rb"):
            return True
    except OSError as err:
        problems.append(f"{where}: cannot read {path}: {err.strerror or err}")
        return False

"""The image, built from the Dockerfile unchanged and run as users run it (docker or podman).

Every container here runs read-only as the image's non-root user (tests/deploy/container.py).
A stop is timed from the signal to the exit the engine recorded, and must end with exit 0
within the two seconds docs/operations.md promises.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy.conftest import Images, compose_exporter
from tests.deploy.container import (
    STOP_SECONDS,
    Blackhole,
    Container,
    Containers,
    Engine,
    free_port,
    get,
    post,
    wait_until,
)
from tests.paths import ROOT
from tests.unit.web.test_webconfig import Pki, pki  # noqa: F401 (the session's PKI fixture)

pytestmark = pytest.mark.timeout(900)  # the first test to run builds the images

CONFIG = "/etc/cleanrooms-exporter/config.yaml"
FAKE_KEYS = ["-e", "AWS_ACCESS_KEY_ID=AKIATESTTESTTESTTEST", "-e", "AWS_SECRET_ACCESS_KEY=test"]
NO_METADATA = ["-e", "AWS_EC2_METADATA_DISABLED=true"]  # never the host's instance role


def wait_ready(container: Container, port: int, timeout: float = 90) -> None:
    ready = lambda: get(port, "/-/ready")[0] == 200  # noqa: E731
    wait_until(ready, timeout, "/-/ready answering 200", container)


def assert_stops_cleanly(result: tuple[int, float]) -> None:
    code, took = result
    assert code == 0, f"exit code {code} after {took:.2f} s"
    assert took < STOP_SECONDS, f"the stop took {took:.2f} s"


def test_no_arguments_serves_and_names_what_is_missing(
    images: Images, containers: Containers
) -> None:
    """`docker run IMAGE`: the default credential chain's account, in AWS_REGION."""
    options = ["-p", "127.0.0.1::19431", "-e", "AWS_REGION=eu-west-2", *NO_METADATA]
    container = containers.start(images.default, options=options)
    port = container.host_port(19431)
    wait_ready(container, port)
    _, metrics = get(port, "/metrics")
    assert 'cleanrooms_target_up{account_id="accounts[0]",region="eu-west-2"} 0.0' in metrics
    assert 'error_code="NoCredentialsError"' in metrics
    assert "cannot resolve the account id: Unable to locate credentials" in container.logs()
    assert "Unable to locate credentials" in get(port, "/")[1]
    health = container.healthcheck()  # plain: the default port, no init, no TLS
    assert health.returncode == 0, health.stdout + health.stderr
    assert_stops_cleanly(container.stop())


def test_demo_stack_image_serves_data_and_stops_mid_scrape(
    images: Images, containers: Containers
) -> None:
    """The exporter service of examples/demo-stack/compose.yaml, as that file runs it."""
    service = compose_exporter()
    assert service["read_only"] is True  # as every container here runs
    command = service["command"]
    assert isinstance(command, list)
    container = containers.start(images.demo, *command, options=["-p", "127.0.0.1::19431"])
    port = container.host_port(19431)
    wait_ready(container, port)
    _, metrics = get(port, "/metrics")
    assert 'cleanrooms_target_up{account_id="111111111111",region="us-east-1"} 1.0' in metrics
    assert "cleanrooms_collaborations{" in metrics
    page = get(port, "/")[1]
    assert "Pending invitations, untrusted first, then oldest" in page
    assert "Trusted Retail Partner" in page  # one of the demo's invitations
    health = container.healthcheck()
    assert health.returncode == 0, health.stdout + health.stderr
    # The image's user, and not one path the exporter could write to.
    probe = "import os; print(os.getuid(), [p for p in ('/', '/tmp', '/etc') if os.access(p, 2)])"
    assert container.exec("python", "-c", probe).stdout.split() == ["10001", "[]"]

    # A scrape in flight: one client still sending its request, one not reading the answer.
    sending = socket.create_connection(("127.0.0.1", port))
    sending.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n")
    reading = socket.socket()
    reading.settimeout(10)
    reading.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reading.connect(("127.0.0.1", port))
    reading.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
    assert reading.recv(64).startswith(b"HTTP/1.")
    try:
        assert_stops_cleanly(container.stop())
    finally:
        sending.close()
        reading.close()


def test_demo_without_the_demo_extra_says_how_to_get_it(engine: Engine, images: Images) -> None:
    result = engine.run(images.default, "--demo")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--build-arg EXTRAS=auth,demo" in lines[0]
    assert lines[0] in (ROOT / "docs" / "container.md").read_text()  # as documented
    assert ",".join(images.demo_args) == "EXTRAS=auth,demo"  # what the line tells is right


def test_sigterm_0_2_s_after_start(images: Images, containers: Containers) -> None:
    # No --config.file: the default credential chain, whatever the image's own file holds.
    container = containers.start_and_stop(0.2, images.default, options=NO_METADATA)
    assert_stops_cleanly(container.exit())
    logs = container.logs()
    assert "received SIGTERM while starting; exiting" in logs  # not yet serving
    assert "listening on" not in logs


def test_sigterm_during_a_first_poll_aws_does_not_answer(
    images: Images, containers: Containers, tmp_path: Path
) -> None:
    hole = Blackhole()
    config = tmp_path / "config.yaml"
    endpoint = f"http://127.0.0.1:{hole.port}"
    config.write_text(f"aws: {{endpoint_url: '{endpoint}'}}\naccounts: [{{id: '111111111111'}}]\n")
    config.chmod(0o644)
    listen = f"--web.listen-address=127.0.0.1:{free_port()}"
    # The host's network: the container reaches the blackhole on the host's loopback.
    options = ["--network=host", "-v", f"{config}:{CONFIG}:ro", *FAKE_KEYS, *NO_METADATA]
    container = containers.start(images.default, f"--config.file={CONFIG}", listen, options=options)
    try:
        wait_until(lambda: bool(hole.accepted), 30, "the first poll connecting to the blackhole")
        assert_stops_cleanly(container.stop())
    finally:
        hole.close()


def write_accounts(path: Path, endpoint: str, accounts: list[str]) -> None:
    """A config of ``accounts``, each by its role (moto's state is kept per account)."""
    roles = "".join(
        f"  - {{role_arn: 'arn:aws:iam::{a}:role/R', external_id: '${{EXT_ID}}'}}\n"
        for a in accounts
    )
    path.write_text(f"poll_interval: 1s\naws: {{endpoint_url: '{endpoint}'}}\naccounts:\n{roles}")


def accounts_up(port: int) -> set[str]:
    _, metrics = get(port, "/metrics")
    prefix = 'cleanrooms_target_up{account_id="'
    lines = metrics.splitlines()
    return {line[len(prefix) :].split('"')[0] for line in lines if line.startswith(prefix)}


def test_reload_by_sighup_and_by_http_with_a_mounted_config(
    images: Images,
    containers: Containers,
    tmp_path: Path,
    moto_server: str,
    new_account: Callable[[], str],
) -> None:
    a, b = new_account(), new_account()
    config = tmp_path / "config.yaml"
    write_accounts(config, moto_server, [a])
    config.chmod(0o644)
    port = free_port()
    # Rewritten in place, the mounted file keeps its inode: the container sees each change.
    options = [
        "--network=host",
        "-v",
        f"{config}:{CONFIG}:ro",
        "-e",
        "EXT_ID=an-external-id",
        *FAKE_KEYS,
    ]
    args = [f"--config.file={CONFIG}", f"--web.listen-address=127.0.0.1:{port}"]
    container = containers.start(images.default, *args, options=[*options, *NO_METADATA])
    wait_ready(container, port)
    assert accounts_up(port) == {a}

    write_accounts(config, moto_server, [a, b])
    container.signal("HUP")
    wait_until(lambda: accounts_up(port) == {a, b}, 30, "SIGHUP adding an account")

    write_accounts(config, moto_server, [b])
    assert post(port, "/-/reload") == (200, "reloaded: 1 targets\n")
    assert accounts_up(port) == {b}
    assert_stops_cleanly(container.stop())


def https_status(port: int, path: str) -> int:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a throw-away certificate
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            context.wrap_socket(raw) as tls,
        ):
            tls.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            return int(tls.recv(64).split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def tls_mounts(tmp_path: Path, pki: Pki) -> list[str]:  # noqa: F811
    """A --web.config.file that turns TLS on, and its certificate, mounted under /tls."""
    web = tmp_path / "web.yaml"
    web.write_text("tls_server_config: {cert_file: /tls/server.crt, key_file: /tls/server.key}\n")
    mounts = {web: "web.yaml", pki.server_cert: "server.crt", pki.server_key: "server.key"}
    for path in mounts:
        path.chmod(0o644)  # a throw-away key: the image's user reads it
    return [f"--volume={path}:/tls/{name}:ro" for path, name in mounts.items()]


# name: (engine options, exporter arguments, the exporter's port in the container)
HEALTH_VARIANTS = {
    "--init": (["--init"], ["--web.listen-address=:9999"], 9999),
    "port as two words": ([], ["--web.listen-address", ":9999"], 9999),
    "TLS": ([], ["--web.config.file=/tls/web.yaml"], 19431),
}


@pytest.mark.parametrize("variant", HEALTH_VARIANTS)
def test_healthcheck_passes(
    variant: str,
    images: Images,
    containers: Containers,
    tmp_path: Path,
    pki: Pki,  # noqa: F811
) -> None:
    """The plain case is in the test of `docker run IMAGE` above."""
    options, args, port = HEALTH_VARIANTS[variant]
    tls = variant == "TLS"
    mounts = tls_mounts(tmp_path, pki) if tls else []
    options = [*options, *mounts, f"--publish=127.0.0.1::{port}", *NO_METADATA]
    container = containers.start(images.default, *args, options=options)
    published = container.host_port(port)
    status = https_status if tls else (lambda p, path: get(p, path)[0])
    answers = lambda: status(published, "/-/healthy") == 200  # noqa: E731
    wait_until(answers, 60, f"/-/healthy on port {port}", container)
    health = container.healthcheck()
    assert health.returncode == 0, health.stdout + health.stderr

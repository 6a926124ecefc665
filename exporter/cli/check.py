"""``--config.check``: everything that can be judged without AWS or the pod's name."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from exporter.aws.clients import known_profiles
from exporter.config import AccountConfig, Config, ConfigError, read_text, read_yaml
from exporter.config.collectors import CollectorSchedule
from exporter.core.series import DETAILS
from exporter.polling.cores import AUTO, resolve_workers
from exporter.polling.sharding import resolve_shard, worker_concurrency
from exporter.web.tlsconfig import WebConfig, load_web_config

REGION_SOURCES = "AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1"
World = TypeVar("World")


def load_files(
    load: Callable[[], tuple[Config, World]],
    config_file: str | None,
    web_file: str | None,
    checking: bool = False,
) -> tuple[Config, World, WebConfig]:
    """The configuration (``load``) and the ``--web.config.file``, both read whatever the
    other holds: a ``ConfigError`` lists the problems of each file under its name.

    ``checking`` (``--config.check``) adds what the file alone cannot show to its problems.
    """
    errors: list[ConfigError] = []
    loaded: tuple[Config, World] | None = None
    try:
        loaded = load()
    except ConfigError as err:
        errors.append(err)
    if loaded is not None and checking:
        problems = offline_problems(loaded[0], demo=loaded[1] is not None)
        if problems:
            errors.append(ConfigError(problems, config_file))
    web = WebConfig()
    try:
        web = load_web_config(web_file) if web_file else web
    except ConfigError as err:
        errors.append(err)
    if errors or loaded is None:
        raise ConfigError.of_files(errors)
    return loaded[0], loaded[1], web


def check(config: Config, path: str | None, demo: bool = False) -> int:
    """Print the verdict and what applies; 2 with every problem found offline, else 0."""
    problems = offline_problems(config, demo)
    if problems:
        print(f"cleanrooms-exporter: {ConfigError(problems, path)}", file=sys.stderr)
        return 2
    targets = sum(len(a.regions) for a in config.accounts)
    discovery = " plus discovered accounts" if config.discovery else ""
    accounts = _count(len(config.accounts), "account")
    print(f"configuration valid: {accounts}, {_count(targets, 'target')}{discovery}")
    for line in _check_details(config, path, demo):
        print(line)
    enabled = ", ".join(_schedule(s) for s in config.schedules())
    print(f"collectors enabled: {enabled}")
    if config.metrics.allow or config.metrics.deny:
        allow = ", ".join(config.metrics.allow) or "every family"
        print(f"metrics: allow {allow}; deny {', '.join(config.metrics.deny) or 'none'}")
    print(f"poll workers: {_workers(config)}")
    return 0


def _schedule(schedule: CollectorSchedule) -> str:
    """``members (every 900s)``, with its detail level when it is not the finest."""
    detail = f", detail {schedule.detail}" if schedule.detail != DETAILS[0] else ""
    return f"{schedule.name} (every {schedule.interval:g}s{detail})"


def _workers(config: Config) -> str:
    """How many processes poll, and where ``auto`` got its number from."""
    workers = resolve_workers(config.poll_workers)
    source = f" (auto: {_count(workers, 'usable core')})" if config.poll_workers == AUTO else ""
    if workers > 1:
        threads = worker_concurrency(config.concurrency, workers)
        return f"{workers} processes{source}, {threads} threads each"
    return f"none{source}, {config.concurrency} threads in this process"


def offline_problems(config: Config, demo: bool = False) -> list[str]:
    """What the file alone cannot show: shard settings, and profiles the AWS files lack."""
    problems = []
    sharding = config.sharding
    if sharding.index != "auto":
        try:
            resolve_shard(sharding.index, sharding.count, {})
        except ValueError as err:
            problems.append(f"sharding: {err}")
    profiles = set() if demo else known_profiles()
    for index, account in enumerate(config.accounts):
        if account.profile and account.profile not in profiles:
            problems.append(
                f"accounts[{index}].profile: {account.profile} is in neither the shared config "
                "file nor the credentials file (~/.aws/config, ~/.aws/credentials, or "
                "AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE)"
            )
    return problems


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _check_details(config: Config, path: str | None, demo: bool) -> list[str]:
    """What --config.check prints after its verdict: each account, and which defaults apply."""
    lines = [f"  accounts[{i}] {_describe_account(a)}" for i, a in enumerate(config.accounts)]
    if config.discovery:
        lines.append(f"  plus every ACTIVE account AWS Organizations lists, in {_regions(config)}")
    if demo:
        lines.append("note: --demo: the demo's simulated accounts; no AWS account is read")
        return lines
    if path is None:
        lines.append(
            "note: no --config.file: polling the default credential chain's own account in "
            f"{_regions(config)} ({REGION_SOURCES})"
        )
        return lines
    # The file is valid, so reading it again only tells which keys it sets.
    keys = set(read_yaml(read_text(path)))
    if "accounts" not in keys and not config.discovery:
        lines.append(
            "note: the file lists no accounts, so by default the exporter polls the account "
            "of the default credential chain (environment, shared config, container or "
            "instance role)"
        )
    if "regions" not in keys:
        lines.append(f"note: the file sets no regions: using {_regions(config)} ({REGION_SOURCES})")
    return lines


def _describe_account(account: AccountConfig) -> str:
    who = account.id or "(id from sts:GetCallerIdentity)"
    name = f" {account.name!r}" if account.name else ""
    return f"{who}{name} via {account.source}: {', '.join(account.regions)}"


def _regions(config: Config) -> str:
    return ", ".join(config.regions)

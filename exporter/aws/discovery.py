"""Account discovery from AWS Organizations, refreshed in the background.

A failed refresh keeps the last good account list: a flaky Organizations API
must not make hundreds of targets vanish from the output.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from exporter.aws.error_codes import (
    AssumeRoleFailed,
    client_error_code,
    client_error_message,
    transport_code,
    transport_message,
)
from exporter.config import AccountConfig
from exporter.config.scale import OrganizationsDiscovery
from exporter.core.model import DiscoveryStatus

log = logging.getLogger(__name__)

MAX_OU_DEPTH = 8  # Organizations allows 5 levels below the root; more means a loop


class DiscoveryError(Exception):
    """Discovery failed; carries the operation and error code for the log line."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message


def _pages(client: Any, operation: str, key: str, **params: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


def _active(account: dict[str, Any]) -> bool:
    # Newer responses say State (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED); older say Status.
    return (account.get("State") or account.get("Status")) == "ACTIVE"


def accounts_under(client: Any, parent: str, depth: int = 0) -> dict[str, dict[str, Any]]:
    """Every account below ``parent`` (an OU or root id), nested OUs included."""
    if depth > MAX_OU_DEPTH:
        raise DiscoveryError("ListOrganizationalUnitsForParent", "TooDeep", f"below {parent}")
    found = {
        a["Id"]: a for a in _pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent)
    }
    for unit in _pages(
        client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent
    ):
        found.update(accounts_under(client, unit["Id"], depth + 1))
    return found


def list_accounts(client: Any, settings: OrganizationsDiscovery) -> list[dict[str, Any]]:
    """ACTIVE accounts that pass the include/exclude filters, sorted by id."""
    if settings.include_ous:
        found: dict[str, dict[str, Any]] = {}
        for unit in settings.include_ous:
            found.update(accounts_under(client, unit))
    else:
        found = {a["Id"]: a for a in _pages(client, "list_accounts", "Accounts")}
    excluded = set(settings.exclude_accounts)
    for unit in settings.exclude_ous:
        excluded.update(accounts_under(client, unit))
    wanted = set(settings.include_accounts)
    return [
        found[i]
        for i in sorted(found)
        if _active(found[i]) and i not in excluded and (not wanted or i in wanted)
    ]


def to_accounts(
    listed: list[dict[str, Any]],
    settings: OrganizationsDiscovery,
    default_regions: tuple[str, ...],
    partition: str = "aws",
) -> list[AccountConfig]:
    """Account configs that assume ``role_name`` in each discovered account."""
    return [
        AccountConfig(
            id=account["Id"],
            name=str(account.get("Name") or ""),
            role_arn=f"arn:{partition}:iam::{account['Id']}:role/{settings.role_name}",
            external_id=settings.external_id,
            regions=settings.regions or default_regions,
        )
        for account in listed
    ]


def discover(
    client: Any, settings: OrganizationsDiscovery, default_regions: tuple[str, ...]
) -> list[AccountConfig]:
    """One full discovery; raises ``DiscoveryError`` with the failing operation and code."""
    try:
        return to_accounts(list_accounts(client, settings), settings, default_regions)
    except ClientError as err:
        code, message = client_error_code(err), client_error_message(err)
        raise DiscoveryError(err.operation_name, code, message) from err
    except AssumeRoleFailed as err:
        raise DiscoveryError("AssumeRole", err.kwargs["code"], transport_message(err)) from err
    except BotoCoreError as err:
        raise DiscoveryError("ListAccounts", transport_code(err), transport_message(err)) from err
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        # A response without Id, or of the wrong shape: the API (or a proxy) is broken.
        raise DiscoveryError("ListAccounts", "InvalidResponse", repr(err)) from err


def _describe(err: DiscoveryError | BotoCoreError | ClientError) -> tuple[str, str, str]:
    """(operation, code, message) of a failed discovery; one raised before its own calls
    comes from the identity look-up."""
    if isinstance(err, DiscoveryError):
        return err.operation, err.code, err.message
    if isinstance(err, ClientError):
        return err.operation_name, client_error_code(err), client_error_message(err)
    return "GetCallerIdentity", transport_code(err), transport_message(err)


class Discoverer:
    """Runs discovery now and every ``refresh`` seconds; reports changes to ``on_change``."""

    def __init__(
        self,
        run: Callable[[], list[AccountConfig]],
        refresh: float,
        on_change: Callable[[list[AccountConfig]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._run = run
        self._refresh = refresh
        self._on_change = on_change
        self._clock = clock
        self._stop = threading.Event()
        self.attempted = threading.Event()
        self.status = DiscoveryStatus()
        self._last: list[AccountConfig] | None = None

    def run_once(self) -> bool:
        """One discovery; on failure the last good list stays in use."""
        status = self.status
        try:
            accounts = self._run()
        except (DiscoveryError, BotoCoreError, ClientError) as err:
            operation, code, message = _describe(err)
            log.warning(
                "discovery failed, keeping %d accounts: %s",
                status.accounts,
                message,
                extra={"operation": operation, "error_code": code},
            )
            self.status = DiscoveryStatus(
                False,
                status.accounts,
                status.runs + 1,
                status.failures + 1,
                status.last_success,
            )
            self.attempted.set()
            return False
        self.status = DiscoveryStatus(
            True, len(accounts), status.runs + 1, status.failures, self._clock()
        )
        if accounts != self._last:
            self._last = accounts
            self._on_change(accounts)
        self.attempted.set()
        return True

    def start(self) -> None:
        threading.Thread(target=self._loop, name="discovery", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                ok = self.run_once()
            except Exception as err:  # the refresh thread must outlive any bug
                log.error("discovery: unexpected %s", type(err).__name__)
                self.attempted.set()
                ok = False
            failures = 0 if ok else failures + 1
            # Retry a failure sooner than a full refresh, backing off up to it.
            delay = self._refresh if failures == 0 else min(self._refresh, 30.0 * 2**failures)
            self._stop.wait(delay)

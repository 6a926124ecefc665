"""AWS identifiers in the configuration: account ids, and the strings STS checks.

What is wrong is said precisely (digits, length, or YAML quoting for an account id;
length or character for an external id), so the fix is obvious. The STS rules are read
from botocore's model of STS (``externalIdType``, ``roleSessionNameType``) by ``sdk_facts``,
the very rules AWS applies, rather than copied here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from exporter.config import sdk_facts

ACCOUNT_ID_DIGITS = 12
_DIGITS = re.compile(r"[0-9]+")


def account_id_problem(value: Any) -> str | None:
    """What is wrong with an account id as the file wrote it; None when it is one."""
    if isinstance(value, str):
        if not _DIGITS.fullmatch(value):
            return f"must be {ACCOUNT_ID_DIGITS} digits (0-9 only), got {value!r}"
        if len(value) != ACCOUNT_ID_DIGITS:
            return f"must be {ACCOUNT_ID_DIGITS} digits, got {len(value)} ({value!r})"
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
        if len(digits) == ACCOUNT_ID_DIGITS and value > 0:
            return (
                f"must be quoted: write '{digits}' (unquoted, YAML reads a number, "
                "which drops leading zeros)"
            )
        return (
            f"must be {ACCOUNT_ID_DIGITS} digits in quotes; unquoted, YAML read the number "
            f"{value}: quote the id exactly as AWS shows it, leading zeros included"
        )
    return f"must be a quoted {ACCOUNT_ID_DIGITS}-digit account id, got {value!r}"


@dataclass(frozen=True)
class StringRule:
    """A string shape of an AWS service model: its length bounds and pattern."""

    name: str  # the parameter it checks, for messages: ExternalId
    minimum: int
    maximum: int
    pattern: str

    def problem(self, value: str) -> str | None:
        """What breaks the rule, without quoting ``value`` (an external id is a secret)."""
        if not self.minimum <= len(value) <= self.maximum:
            return (
                f"must be {self.minimum:,} to {self.maximum:,} characters (AWS's rule for "
                f"{self.name}), got {len(value):,}"
            )
        allowed = re.compile(self.pattern, re.ASCII)  # Java's \w, as AWS means it: ASCII
        if allowed.fullmatch(value):
            return None
        # The patterns are character classes: the first character outside it is the culprit.
        bad = next((i for i, c in enumerate(value, 1) if not allowed.fullmatch(c)), None)
        what = f"character {bad} is not allowed" if bad else "not allowed"
        return f"{what}: AWS's pattern for {self.name} is {self.pattern}"


@cache
def sts_rule(shape: str, name: str) -> StringRule:
    """The rule of one string shape of STS's model, as botocore ships it."""
    found = sdk_facts.sts_string_shape(shape)
    return StringRule(name, int(found["min"]), int(found["max"]), str(found["pattern"]))


def external_id_problem(value: str) -> str | None:
    """What AWS would reject in an ``external_id`` (AssumeRole's ExternalId)."""
    return sts_rule("externalIdType", "ExternalId").problem(value)


def session_name_problem(value: str) -> str | None:
    """What AWS would reject in ``aws.role_session_name`` (AssumeRole's RoleSessionName)."""
    return sts_rule("roleSessionNameType", "RoleSessionName").problem(value)

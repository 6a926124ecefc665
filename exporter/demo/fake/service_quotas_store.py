"""The fake's Service Quotas: ListServiceQuotas of AWS Clean Rooms, per account and region.

moto's Service Quotas lacks ListServiceQuotas. This answers it (a JSON-protocol operation,
routed by its X-Amz-Target header) with the Clean Rooms quotas of the user guide at their
documented defaults, unless a test or the demo applied another value; ``MaxResults`` and
``NextToken`` page it like the API. An account can be made to answer AccessDenied. The
server checks every answer against botocore's ``service-quotas`` model.
"""

from __future__ import annotations

from typing import Any

from exporter.demo.fake.api import ErrorAnswer, Handler, Request, Route, Store, register

Target = tuple[str, str]  # (account_id, region)
PAGE_MAX = 100
# (code, name as the user guide prints it, adjustable, default in us-east-1, elsewhere).
# The codes are the fake's own: the exporter matches quotas by name.
QUOTAS = (
    ("L-CR000001", "Concurrent ongoing queries per membership", False, 5, 5),
    ("L-CR000002", "Concurrent ongoing job per membership", False, 1, 1),
    ("L-CR000003", "Concurrent SQL queries per account", True, 5, 2),
    ("L-CR000004", "Concurrent PySpark jobs per account", True, 5, 2),
    ("L-CR000005", "Concurrent SQL query vCPU usage per account", True, 512, 512),
    ("L-CR000006", "Concurrent PySpark job vCPU usage per account", True, 1024, 512),
    ("L-CR000007", "Memberships per account", True, 100, 100),
    ("L-CR000008", "Collaborations created per account", True, 10, 10),
    ("L-CR000009", "Configured tables per account", True, 250, 250),
)


@register
class ServiceQuotasStore(Store):
    """Clean Rooms quotas per (account, region): the defaults, and values applied over them."""

    name = "service_quotas"

    def __init__(self) -> None:
        super().__init__()
        self.applied: dict[Target, dict[str, float]] = {}  # quota name -> value
        self.denied: set[str] = set()  # accounts whose role may not list quotas

    def routes(self) -> dict[Route, Handler]:
        return {("service-quotas", "ListServiceQuotas"): self._list}

    def apply(self, target: Target, name: str, value: float) -> None:
        """Raise (or set) a quota of one account and region, as a granted increase does."""
        if name not in {q[1] for q in QUOTAS}:
            raise KeyError(f"no Clean Rooms quota named {name!r}")
        with self.lock:
            self.applied.setdefault(target, {})[name] = value

    def deny(self, account_id: str) -> None:
        """The account's ListServiceQuotas answers AccessDeniedException from now on."""
        with self.lock:
            self.denied.add(account_id)

    def quotas(self, target: Target) -> list[dict[str, Any]]:
        """The target's ServiceQuota objects, as the API sends them."""
        account_id, region = target
        with self.lock:
            applied = dict(self.applied.get(target, {}))
        return [
            {
                "ServiceCode": "cleanrooms",
                "ServiceName": "AWS Clean Rooms",
                "QuotaArn": f"arn:aws:servicequotas:{region}:{account_id}:cleanrooms/{code}",
                "QuotaCode": code,
                "QuotaName": name,
                "Value": float(applied.get(name, big if region == "us-east-1" else other)),
                "Unit": "None",
                "Adjustable": adjustable,
                "GlobalQuota": False,
                "QuotaAppliedAtLevel": "ACCOUNT",
            }
            for code, name, adjustable, big, other in QUOTAS
        ]

    def _list(self, request: Request) -> dict[str, Any]:
        with self.lock:
            denied = request.account_id in self.denied
        if denied:
            raise ErrorAnswer(400, "AccessDeniedException", "not authorized: ListServiceQuotas")
        if request.body.get("ServiceCode") != "cleanrooms":
            raise ErrorAnswer(400, "NoSuchResourceException", "only cleanrooms is simulated")
        try:
            size = int(request.body.get("MaxResults", PAGE_MAX))
            start = int(request.body.get("NextToken", "0"))
        except (TypeError, ValueError) as err:
            raise ErrorAnswer(400, "InvalidPaginationTokenException", "bad NextToken") from err
        if not 1 <= size <= PAGE_MAX or start < 0:
            raise ErrorAnswer(400, "IllegalArgumentException", "MaxResults: 1 to 100")
        found = self.quotas((request.account_id, request.region))
        page: dict[str, Any] = {"Quotas": found[start : start + size]}
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        return page

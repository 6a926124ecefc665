"""A Clean Rooms, STS and Organizations stand-in with a fixed latency per request.

    python -m bench.standin --port 0 --accounts 1000 --latency 0.05

Not a mock of the exporter: a real HTTP server on loopback that answers the
calls the exporter makes (AssumeRole, GetCallerIdentity, ListAccounts,
ListCollaborations, one real-shaped page of 25 summaries for any other Clean Rooms, Clean
Rooms ML or Service Quotas list operation, BatchGetSchema's schemas, and a real-shaped
answer for a Get, from
``bench/bodies.py``) and counts them. GET /__stats
returns the counts as JSON; POST /__reset zeroes them. It prints its port on the
first line of stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.bodies import batch_get_schema, page
from exporter.demo.fake.service import SERVICES, operation_for

MANAGEMENT = "999999999999"
_AKID = re.compile(r"Credential=AKIA(\d{12})")
# Credential=<key>/<date>/<region>/<signing name>/: which service a request is for.
_SIGNING_NAME = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/")
PAGE = 20  # ListAccounts' maximum page size


def collaborations_body(account_id: str, count: int, memberships: int | None = None) -> bytes:
    """``count`` collaborations; with ``memberships``, that many ACTIVE ones have a membership.

    Without it, statuses take turns (ACTIVE, INVITED, LEFT, REMOVED) and no summary has
    a membership: the collaborations path alone, as earlier releases measured it.
    """
    now = time.time()
    items = []
    for i in range(count):
        item = {
            "id": f"{account_id[-8:]}-{i:04d}-4000-8000-000000000000",  # 36 characters
            "arn": f"arn:aws:cleanrooms:us-east-1:{account_id}:collaboration/{i}",
            "name": f"collaboration {i} of {account_id}",
            "creatorAccountId": "444444444444",
            "creatorDisplayName": "Partner",
            "createTime": now - i * 3600,
            "updateTime": now,
            "memberStatus": ("ACTIVE", "INVITED", "LEFT", "REMOVED")[i % 4],
        }
        if memberships is not None:
            active = i < memberships
            item["memberStatus"] = "ACTIVE" if active else ("INVITED", "LEFT", "REMOVED")[i % 3]
            if active:
                membership = f"{account_id[-8:]}-{i:04d}-4000-8000-111111111111"
                item["membershipId"] = membership
                item["membershipArn"] = (
                    f"arn:aws:cleanrooms:us-east-1:{account_id}:membership/{membership}"
                )
        items.append(item)
    return json.dumps({"collaborationList": items}).encode()


class StandIn(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        port: int,
        accounts: int,
        latency: float,
        collaborations: int,
        memberships: int | None = None,
    ) -> None:
        self.accounts = [f"{100000000000 + i:012d}" for i in range(accounts)]
        self.latency = latency
        self.collaborations = collaborations
        self.memberships = memberships
        self.bodies: dict[str, bytes] = {}
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)

    def page_for(self, operation: str) -> bytes:
        body = self.bodies.get(operation)
        if body is None:
            body = self.bodies[operation] = page(operation, self.collaborations)
        return body

    def body_for(self, account_id: str) -> bytes:
        body = self.bodies.get(account_id)
        if body is None:
            body = collaborations_body(account_id, self.collaborations, self.memberships)
            self.bodies[account_id] = body
        return body


class Handler(BaseHTTPRequestHandler):
    server: StandIn
    protocol_version = "HTTP/1.1"  # keep-alive, as with AWS; clients share pools per region
    # Headers and body go out as separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == "/__stats":
            with self.server.lock:
                self.reply(200, json.dumps(self.server.counts).encode(), "application/json")
            return
        signed = _SIGNING_NAME.search(self.headers.get("Authorization", ""))
        service = SERVICES.get(signed.group(1) if signed else "", "cleanrooms")
        route = operation_for("GET", self.path, service)
        operation = route[0] if route else "ListCollaborations"
        self.count_and_wait(operation)
        if operation != "ListCollaborations":
            self.reply(200, self.server.page_for(operation), "application/json")
            return
        match = _AKID.search(self.headers.get("Authorization", ""))
        account = match.group(1) if match else "000000000000"
        self.reply(200, self.server.body_for(account), "application/json")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if self.path == "/__reset":
            with self.server.lock:
                self.server.counts.clear()
            self.reply(200, b"{}", "application/json")
            return
        target = self.headers.get("X-Amz-Target", "")
        if target.endswith(".ListAccounts"):
            self.count_and_wait("ListAccounts")
            self.list_accounts(json.loads(body or "{}"))
            return
        if target.endswith(".ListServiceQuotas"):
            self.count_and_wait("ListServiceQuotas")
            page_body = self.server.page_for("ListServiceQuotas")
            self.reply(200, page_body, "application/x-amz-json-1.1")
            return
        if operation_for("POST", self.path, "cleanrooms") is not None:  # BatchGetSchema
            self.count_and_wait("BatchGetSchema")
            names = json.loads(body or "{}").get("names") or []
            self.reply(200, batch_get_schema(names), "application/json")
            return
        form = urllib.parse.parse_qs(body)
        action = form.get("Action", [""])[0]
        self.count_and_wait(action)
        if action == "AssumeRole":
            account = form["RoleArn"][0].split(":")[4]
            self.reply(200, assume_role_xml(account), "text/xml")
        elif action == "GetCallerIdentity":
            self.reply(200, caller_identity_xml(), "text/xml")
        else:
            self.reply(400, b"unsupported", "text/plain")

    def list_accounts(self, request: dict[str, str]) -> None:
        start = int(request.get("NextToken") or 0)
        page = self.server.accounts[start : start + PAGE]
        answer: dict[str, object] = {
            "Accounts": [
                {
                    "Id": a,
                    "Name": f"account-{a[-4:]}",
                    "Status": "ACTIVE",
                    "State": "ACTIVE",
                    "Arn": f"arn:aws:organizations::{MANAGEMENT}:account/o-x/{a}",
                    "Email": f"{a}@example.com",
                }
                for a in page
            ]
        }
        if start + PAGE < len(self.server.accounts):
            answer["NextToken"] = str(start + PAGE)
        self.reply(200, json.dumps(answer).encode(), "application/x-amz-json-1.1")

    def count_and_wait(self, operation: str) -> None:
        with self.server.lock:
            self.server.counts[operation] += 1
        time.sleep(self.server.latency)

    def reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def assume_role_xml(account_id: str) -> bytes:
    expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    return (
        "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
        f"<AccessKeyId>AKIA{account_id}</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
        f"<SessionToken>t</SessionToken><Expiration>{expiry}</Expiration></Credentials>"
        f"<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>arn:aws:sts::{account_id}:"
        "assumed-role/R/x</Arn></AssumedRoleUser></AssumeRoleResult>"
        "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>"
    ).encode()


def caller_identity_xml() -> bytes:
    return (
        "<GetCallerIdentityResponse><GetCallerIdentityResult>"
        f"<Arn>arn:aws:iam::{MANAGEMENT}:user/bench</Arn><UserId>AIDA</UserId>"
        f"<Account>{MANAGEMENT}</Account></GetCallerIdentityResult>"
        "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--collaborations", type=int, default=25)
    parser.add_argument(
        "--memberships", type=int, help="ACTIVE collaborations with a membership, per target"
    )
    args = parser.parse_args()
    server = StandIn(args.port, args.accounts, args.latency, args.collaborations, args.memberships)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

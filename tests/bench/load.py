"""`make bench` load section: an Entra initial sync replayed by eight concurrent clients over the
local stack's HTTP socket, then the chain drained and the organization checked.

Each client does what Entra's provisioning service does for an object (Microsoft's "Tutorial:
Develop and plan provisioning for a SCIM endpoint" and its request log): a user is a filtered GET
on userName then a POST; a group is a filtered GET on displayName with excludedAttributes=members,
a POST without members, then PATCHes adding the members in batches. A 429 is retried after its
Retry-After, as Entra does; any other non-2xx answer is an error. Users come first, as in Entra's
first cycle, so the groups' member ids exist.

Printed: requests per second sustained over the replay, the answers by status, the errors, the
time the stream → publisher → bus → queue → fan-out chain took to settle, and then the records
lost (users, groups and memberships the replay made that the API does not return) and the
inconsistent ones (violations of the consistency check). Both must be 0.
`BENCH_LOAD_USERS` (400), `BENCH_LOAD_GROUPS` (20), `BENCH_LOAD_CLIENTS` (8),
`BENCH_LOAD_BATCH` (members per PATCH, 20) and `BENCH_LOAD_ORG_RPS` (the organization's request
rate, 10000 so that the stack and not the throttle is measured; 50 is the template's) scale it.

The `faults` section replays the same sync while `BENCH_LOAD_FAULT_RATE` (0.05) of the SCIM
functions' DynamoDB calls fail as an exhausted throttle would (ProvisionedThroughputExceeded):
the function answers 429 with Retry-After and writes nothing, the client retries. Printed
besides: the faults injected, and that every record still arrived consistent.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError

from provisioning import clients
from provisioning.local import LocalStack
from tests.conftest import REPO_ROOT

USERS = int(os.environ.get("BENCH_LOAD_USERS", "400"))
GROUPS = int(os.environ.get("BENCH_LOAD_GROUPS", "20"))
CLIENTS = int(os.environ.get("BENCH_LOAD_CLIENTS", "8"))
BATCH = int(os.environ.get("BENCH_LOAD_BATCH", "20"))
ORG_RPS = os.environ.get("BENCH_LOAD_ORG_RPS", "10000")
# The `faults` section's share of failing calls (`BENCH_LOAD_FAULT_RATE` overrides it).
FAULT_RATE = float(os.environ.get("BENCH_LOAD_FAULT_RATE", "0.05"))
# The functions whose DynamoDB calls the faults hit: the SCIM request path, where a client sees
# them (the asynchronous chain has its own retries and DLQ, tested in tests/http).
FAULTED_FUNCTIONS = ("UsersFunction", "GroupsFunction")
_DISCARDED = open(os.devnull, "w")  # noqa: SIM115 - open for the process's life
ORG = "loadtest"
# Each user is in this many groups (fewer when there are fewer groups).
GROUPS_PER_USER = 2

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_AGENT = "Microsoft.Identity.Provisioning"


class ReplayError(RuntimeError):
    """An answer the replay cannot go on from (the object is skipped, the error counted)."""


@dataclass
class Tally:
    """What the clients saw, shared by them under a lock."""

    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    retried: int = 0
    user_ids: dict[str, str] = field(default_factory=dict)  # userName -> id
    group_ids: dict[str, str] = field(default_factory=dict)  # displayName -> id
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


class EntraClient:
    """One of Entra's connections: keep-alive HTTP/1.1, the bearer token, SCIM JSON."""

    def __init__(self, base_url: str, token: str, tally: Tally) -> None:
        parts = urlsplit(base_url)
        self._connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": SCIM_JSON,
            "Accept": SCIM_JSON,
            "User-Agent": ENTRA_AGENT,
        }
        self._tally = tally

    def send(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One request, retried after Retry-After while it is 429; its final status and body."""
        payload = None if body is None else json.dumps(body).encode()
        while True:
            self._connection.request(method, f"/scim/v2{path}", body=payload, headers=self._headers)
            response = self._connection.getresponse()
            data = response.read()
            with self._tally.lock:
                self._tally.statuses[response.status] += 1
            if response.status != 429:
                answer = json.loads(data) if data else None
                if not 200 <= response.status < 300:
                    with self._tally.lock:
                        self._tally.errors.append(f"{method} {path}: {response.status} {answer}")
                    raise ReplayError(f"{method} {path}: {response.status}")
                return response.status, answer
            with self._tally.lock:
                self._tally.retried += 1
            time.sleep(float(response.getheader("Retry-After") or "1"))

    def close(self) -> None:
        self._connection.close()


Task = Callable[["EntraClient"], None]


def user_name(number: int) -> str:
    return f"user{number:06d}@loadtest.example"


def group_name(number: int) -> str:
    return f"Group {number:04d}"


def planned_members(users: int, groups: int) -> dict[str, list[str]]:
    """displayName -> the userNames Entra assigns to it: each user in GROUPS_PER_USER groups."""
    members: dict[str, list[str]] = {group_name(g): [] for g in range(groups)}
    for number in range(users):
        for k in range(min(GROUPS_PER_USER, groups)):
            members[group_name((number + k * 7) % groups)].append(user_name(number))
    return members


def filtered(attribute: str, value: str) -> str:
    return quote(f'{attribute} eq "{value}"', safe="")


def sync_user(client: EntraClient, *, tally: Tally, number: int) -> None:
    name = user_name(number)
    _, found = client.send("GET", f"/Users?filter={filtered('userName', name)}")
    if found["totalResults"]:
        raise ReplayError(f"{name} exists before its create")
    body = {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "externalId": f"entra-{number:06d}",
        "active": True,
        "displayName": f"User {number}",
        "name": {"givenName": "User", "familyName": str(number)},
        "emails": [{"type": "work", "value": name, "primary": True}],
    }
    _, created = client.send("POST", "/Users", body)
    with tally.lock:
        tally.user_ids[name] = created["id"]


def sync_group(client: EntraClient, *, tally: Tally, name: str, members: list[str]) -> None:
    query = f"/Groups?filter={filtered('displayName', name)}&excludedAttributes=members"
    _, found = client.send("GET", query)
    if found["totalResults"]:
        raise ReplayError(f"{name} exists before its create")
    _, created = client.send(
        "POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, "externalId": name}
    )
    with tally.lock:
        tally.group_ids[name] = created["id"]
        ids = [tally.user_ids[member] for member in members if member in tally.user_ids]
    for start in range(0, len(ids), BATCH):
        operations = [
            {
                "op": "Add",  # Entra capitalizes its ops
                "path": "members",
                "value": [{"value": user_id} for user_id in ids[start : start + BATCH]],
            }
        ]
        client.send(
            "PATCH",
            f"/Groups/{created['id']}",
            {"schemas": [PATCH_SCHEMA], "Operations": operations},
        )


def run_clients(base_url: str, token: str, tally: Tally, work: list[Task]) -> None:
    """Hand the work out to CLIENTS threads, each with its own connection, until it is done."""
    tasks: queue.Queue[Task] = queue.Queue()
    for task in work:
        tasks.put(task)

    def client_loop() -> None:
        client = EntraClient(base_url, token, tally)
        try:
            while True:
                try:
                    task = tasks.get_nowait()
                except queue.Empty:
                    return
                try:
                    task(client)
                except ReplayError:
                    continue  # counted; Entra would retry the object in a later cycle
        finally:
            client.close()

    threads = [threading.Thread(target=client_loop) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def admin_get(base_url: str, path: str) -> Any:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    try:
        connection.request("GET", f"/admin{path}", headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"GET /admin{path}: {response.status} {answer}")
        return answer
    finally:
        connection.close()


def create_organization(base_url: str) -> str:
    """The organization through the admin API; returns its SCIM token."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
    try:
        body = json.dumps({"id": ORG, "name": "Load test"})
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/admin/orgs", body=body, headers=headers)
        response = connection.getresponse()
        created = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"POST /admin/orgs: {response.status} {created}")
        return str(created["token"])
    finally:
        connection.close()


def check_violations(base_url: str) -> list[dict[str, Any]]:
    """The consistency check of the organization (admin API), followed to its end."""
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        answer = admin_get(base_url, f"/orgs/{ORG}/check{cursor}")
        found += answer["violations"]
        if answer["next"] is None:
            return found
        cursor = f"?cursor={quote(answer['next'], safe='')}"


def every(client: EntraClient, path: str) -> list[dict[str, Any]]:
    """Every resource of a listing, 100 a page (RFC 7644 §3.4.2.4)."""
    resources: list[dict[str, Any]] = []
    start = 1
    while True:
        separator = "&" if "?" in path else "?"
        _, page = client.send("GET", f"{path}{separator}startIndex={start}&count=100")
        resources += page.get("Resources", [])
        start += page["itemsPerPage"]
        if not page["itemsPerPage"] or start > page["totalResults"]:
            return resources


def lost_records(
    base_url: str, token: str, tally: Tally, members: dict[str, list[str]]
) -> dict[str, int]:
    """What the replay created (a 2xx it was given) that the API does not return, by kind."""
    client = EntraClient(base_url, token, Tally())
    try:
        users = {u["userName"]: u["id"] for u in every(client, "/Users")}
        groups = {g["displayName"]: g["id"] for g in every(client, "/Groups")}
        lost = Counter[str]()
        lost["users"] = sum(1 for name, i in tally.user_ids.items() if users.get(name) != i)
        lost["groups"] = sum(1 for name, i in tally.group_ids.items() if groups.get(name) != i)
        for name, group_id in tally.group_ids.items():
            _, group = client.send("GET", f"/Groups/{group_id}")
            present = {member["value"] for member in group.get("members", [])}
            expected = {tally.user_ids[u] for u in members[name] if u in tally.user_ids}
            lost["memberships"] += len(expected - present)
        return dict(lost)
    finally:
        client.close()


@dataclass
class LoadFigures:
    users: int
    groups: int
    memberships: int
    clients: int
    seconds: float
    tally: Tally
    drain_seconds: float
    lost: dict[str, int]
    violations: list[dict[str, Any]]
    containers: dict[str, int]
    faults: int

    @property
    def requests_per_second(self) -> float:
        return self.tally.requests / self.seconds


class Faults:
    """Fails `rate` of the SCIM functions' DynamoDB calls as an exhausted throttle would."""

    def __init__(self, rate: float, seed: int = 7) -> None:
        self._rate = rate
        self._random = random.Random(seed)  # noqa: S311 - a reproducible fault schedule
        self._lock = threading.Lock()
        self.injected = 0

    def __call__(self, model: Any, **_: Any) -> None:
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        if not function.endswith(FAULTED_FUNCTIONS):
            return
        with self._lock:
            if self._random.random() >= self._rate:
                return
            self.injected += 1
        raise ClientError(
            {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "fault"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            model.name,
        )


def replay(fault_rate: float = 0.0) -> LoadFigures:
    members = planned_members(USERS, GROUPS)
    tally = Tally()
    parameters = {"OrgRequestsPerSecond": ORG_RPS, "LogLevel": "WARNING"}
    faults = Faults(fault_rate)
    with LocalStack.start(REPO_ROOT, parameters=parameters) as stack:
        base_url = stack.serve()
        token = create_organization(base_url)
        user_work: list[Task] = [partial(sync_user, tally=tally, number=n) for n in range(USERS)]
        group_work: list[Task] = [
            partial(sync_group, tally=tally, name=name, members=users)
            for name, users in members.items()
        ]
        hooks = clients.dynamodb().meta.events
        if fault_rate:
            hooks.register("before-call.dynamodb", faults, unique_id="load-faults")
        started = time.perf_counter()
        try:
            run_clients(base_url, token, tally, user_work)
            run_clients(base_url, token, tally, group_work)
        finally:
            hooks.unregister("before-call.dynamodb", unique_id="load-faults")
        seconds = time.perf_counter() - started
        # Background polling goes on; a drain returns once nothing is left to deliver.
        drain_started = time.perf_counter()
        stack.drain()
        drain_seconds = time.perf_counter() - drain_started
        lost = lost_records(base_url, token, tally, members)
        violations = check_violations(base_url)
        containers = {
            logical_id: stack.runtime.containers(logical_id)
            for logical_id in stack.runtime.functions
        }
    return LoadFigures(
        users=USERS,
        groups=GROUPS,
        memberships=sum(len(m) for m in members.values()),
        clients=CLIENTS,
        seconds=seconds,
        tally=tally,
        drain_seconds=drain_seconds,
        lost=lost,
        violations=violations,
        containers={k: v for k, v in containers.items() if v},
        faults=faults.injected,
    )


def print_load(fault_rate: float = 0.0) -> None:
    # The functions' EMF metric lines go to stdout, two per request: not part of the figures. The
    # sink stays open: a Logger created during one replay keeps writing to it in the next.
    with contextlib.redirect_stdout(_DISCARDED):
        figures = replay(fault_rate)
    tally = figures.tally
    print(
        f"\nEntra initial sync replayed by {figures.clients} concurrent clients over the local "
        f"stack's HTTP socket (moto): {figures.users} users, {figures.groups} groups, "
        f"{figures.memberships} memberships in PATCHes of {BATCH}, organization limit "
        f"{ORG_RPS} requests/s:"
    )
    print(
        f"  {tally.requests} requests in {figures.seconds:.1f} s: "
        f"{figures.requests_per_second:.1f} requests/s sustained"
    )
    statuses = dict(sorted(tally.statuses.items()))
    print(f"  answers by status: {statuses}; 429s retried: {tally.retried}")
    print(f"  errors (non-2xx other than a retried 429): {len(tally.errors)}")
    for error in tally.errors[:10]:
        print(f"    {error}")
    if fault_rate:
        print(
            f"  faults injected: {figures.faults} throttled DynamoDB calls ({fault_rate:.0%} of "
            "the users' and groups' functions' calls), each answered 429 + Retry-After and retried"
        )
    print(f"  chain settled {figures.drain_seconds:.1f} s after the last response")
    print(f"  containers per function at the peak: {figures.containers}")
    lost = sum(figures.lost.values())
    print(f"  lost records: {lost} {figures.lost}")
    kinds = Counter(str(v["kind"]) for v in figures.violations)
    inconsistent = len(figures.violations)
    print(f"  inconsistent records (consistency check violations): {inconsistent} {dict(kinds)}")
    if lost or figures.violations or tally.errors:
        raise SystemExit("load: records were lost, inconsistent or refused")

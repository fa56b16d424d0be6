"""`make bench`: cold-start import cost of each handler (against a bare handler), the peak memory
of the HTTP handlers, and per-operation DynamoDB calls and latency of the user, group and access
operations, on the local stack (moto). `BENCH_SECTIONS`
(imports,memory,users,groups,access,search,load,faults,fuzz) picks sections; `load` and `faults`
are described in tests/bench/load.py, `fuzz` in tests/bench/fuzz.py. Figures, not assertions:
the suite's tests own correctness; this prints what the README and the issue notes quote."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from provisioning import clients
from provisioning.local import LocalStack
from provisioning.scim.groups import GroupService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore
from tests.bench import fuzz, load, memory
from tests.conftest import REPO_ROOT, ScimClient
from tests.http.seeding import seed_members, seed_users

IMPORT_RUNS = 7
_JSON = {"Content-Type": "application/json"}
OPERATION_RUNS = 30
POPULATION = int(os.environ.get("BENCH_USERS", "1000"))

# Every function the template deploys, and the baseline they are held to: a handler module that
# imports only boto3 and Powertools' Logger (issue 11's "bare handler").
FUNCTIONS = ("authorizer", "users", "groups", "discovery", "purge", "publisher", "fanout", "admin")
BARE_HANDLER = REPO_ROOT / "tests" / "bench" / "bare_app.py"

_IMPORT_PROBE = """
import importlib.util, sys, time
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print((time.perf_counter() - start) * 1000)
"""


def _handler_path(function: str) -> Path:
    return BARE_HANDLER if function == "bare" else REPO_ROOT / "functions" / function / "app.py"


def _function_env(function: str) -> dict[str, str]:
    """The environment the template gives a function (what its INIT reads), for a fresh process."""
    return os.environ | {
        "TABLE_NAME": "bench-table",
        "EVENT_BUS_NAME": "bench-bus",
        "FANOUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": f"scim-{function}",
        "POWERTOOLS_METRICS_NAMESPACE": "ScimProvisioning",
    }


def _import_once(function: str) -> float:
    completed = subprocess.run(  # noqa: S603 - our own interpreter and file
        [sys.executable, "-c", _IMPORT_PROBE, str(_handler_path(function))],
        capture_output=True,
        text=True,
        check=True,
        env=_function_env(function),
    )
    return float(completed.stdout.strip().splitlines()[-1])


def cold_import_ms(functions: Sequence[str], runs: int = IMPORT_RUNS) -> dict[str, float]:
    """Median wall time to import each handler module in a fresh interpreter (Lambda's INIT, with
    the layer's .pyc already compiled). The runs take turns, one per function per round, so a
    burst of load on the machine weighs on every function alike rather than on one."""
    timings: dict[str, list[float]] = {function: [] for function in functions}
    for function in functions:  # a first import compiles the .pyc files: not counted
        _import_once(function)
    for _ in range(runs):
        for function in functions:
            timings[function].append(_import_once(function))
    return {function: statistics.median(runs) for function, runs in timings.items()}


def print_imports() -> None:
    print(
        f"Cold import of each handler module (median of {IMPORT_RUNS} fresh interpreters, Python "
        f"{sys.version_info.major}.{sys.version_info.minor}, this machine), against a bare "
        "handler importing only boto3 and Powertools Logger:"
    )
    medians = cold_import_ms(("bare", *FUNCTIONS))
    bare = medians["bare"]
    print(f"  {'handler':<11} {'ms':>7} {'bare ms':>8} {'+ms':>7} {'ratio':>6}")
    for function in ("bare", *FUNCTIONS):
        ms = medians[function]
        print(f"  {function:<11} {ms:7.0f} {bare:8.0f} {ms - bare:+7.0f} {ms / bare:6.2f}")


# ---------------------------------------------------------------- memory
def peak_memory(function: str) -> dict[str, Any]:
    """tests/bench/memory.py's figures for one handler, from a fresh process."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "tests.bench.memory", function],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=_function_env(function),
    )
    prefix = memory.RESULT_PREFIX
    line = next(out for out in completed.stdout.splitlines() if out.startswith(prefix))
    result: dict[str, Any] = json.loads(line.removeprefix(prefix))
    return result


def print_memory() -> None:
    print(
        f"\nPeak memory of each HTTP handler after {memory.MEMORY_INVOCATIONS:,} invocations of "
        "its sample events (events/) on moto, each in a fresh process: resident set (ru_maxrss, "
        "what Lambda limits and bills as Max Memory Used; tracemalloc would see Python objects "
        "only), MiB. The process also holds moto and the local stack (before the handler's "
        "import), so the handler's own share is the peak less that:"
    )
    print(
        f"  {'handler':<10} {'peak':>6} {'moto world':>11} {'handler':>8} "
        f"{'at import':>10} {'growth':>7}  statuses"
    )
    for function in memory.HTTP_FUNCTIONS:
        m = peak_memory(function)
        world = m["world_kib"] / 1024
        peak, imported = m["peak_kib"] / 1024, m["imported_kib"] / 1024
        growth = (m["final_kib"] - m["imported_kib"]) / 1024
        statuses = ", ".join(f"{n} x {status}" for status, n in m["statuses"].items())
        print(
            f"  {function:<10} {peak:6.1f} {world:11.1f} {peak - world:8.1f} "
            f"{imported - world:10.1f} {growth:+7.1f}  {statuses}"
        )


class Calls:
    """Counts DynamoDB API calls through botocore's before-call event."""

    def __init__(self) -> None:
        self.counter: Counter[str] = Counter()
        clients.dynamodb().meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counter[model.name] += 1


def measure(
    calls: Calls, operation: Callable[[int], Any], runs: int = OPERATION_RUNS
) -> tuple[float, str]:
    """Median latency in ms over `runs` runs, and the DynamoDB calls of one run."""
    timings = []
    per_run: Counter[str] = Counter()
    for run in range(runs):
        calls.counter.clear()
        start = time.perf_counter()
        operation(run)
        timings.append((time.perf_counter() - start) * 1000)
        per_run = Counter(calls.counter)
    described = ", ".join(f"{n} {name}" for name, n in sorted(per_run.items())) or "none"
    return statistics.median(timings), described


def user_operations() -> list[tuple[str, float, str]]:
    with LocalStack.start(REPO_ROOT) as stack:
        client = ScimClient(stack, stack.create_organization("bench"))
        users = [
            client.create_user(
                f"user{n:05d}@bench.example",
                emails=[{"value": f"User{n:05d}@Bench.example", "type": "work", "primary": True}],
            )["id"]
            for n in range(POPULATION)
        ]
        # Every user of the first page in the same two groups: the page reads each user's
        # memberships (one Query each) and the two groups once, not once per user.
        for name in ("Sales", "Everyone"):
            members = [{"value": user} for user in users[:100]]
            client.post("/Groups", {"displayName": name, "members": members})
        calls = Calls()
        operations: list[tuple[str, Callable[[int], Any]]] = [
            ("POST /Users", lambda n: client.create_user(f"new{n}@bench.example")),
            ("GET /Users/{id}", lambda n: client.get(f"/Users/{users[n]}")),
            (
                "GET /Users?filter=userName eq",
                lambda n: client.get(f'/Users?filter=userName eq "user{n:05d}@bench.example"'),
            ),
            (
                'GET /Users?filter=emails[type eq "work" and value eq]',
                lambda n: client.get(
                    f'/Users?filter=emails[type eq "work" and value eq "user{n:05d}@bench.example"]'
                ),
            ),
            (
                "GET /Users?startIndex=1&count=100 (each user in 2 groups)",
                lambda n: client.get("/Users?count=100"),
            ),
            (
                "GET /Users?startIndex=901&count=100",
                lambda n: client.get("/Users?startIndex=901&count=100"),
            ),
            (
                "PATCH /Users/{id} (active)",
                lambda n: client.patch(
                    f"/Users/{users[n]}", [{"op": "Replace", "path": "active", "value": "False"}]
                ),
            ),
            (
                "PUT /Users/{id}",
                lambda n: client.put(
                    f"/Users/{users[n]}", {"userName": f"user{n:05d}@bench.example", "title": "t"}
                ),
            ),
            ("DELETE /Users/{id}", lambda n: client.delete(f"/Users/{users[-1 - n]}")),
        ]
        return [(name, *measure(calls, operation)) for name, operation in operations]


def group_operations(size: int) -> list[tuple[str, float, str]]:
    """Each operation once, on a group of `size` members (moto: time is moto's, calls are AWS's)."""
    with LocalStack.start(REPO_ROOT) as stack:
        client = ScimClient(stack, stack.create_organization("bench"))
        users = seed_users("bench", size + 101)
        members, newcomers, leaver = users[:size], users[size : size + 100], users[-1]
        group = client.post("/Groups", {"displayName": "Everyone"}).json()["id"]
        seed_members("bench", group, members)
        # Set-up straight through the service: every HTTP request also drains the table stream.
        table = get_settings().table_name
        groups = GroupService(
            ResourceStore(clients.dynamodb(), table),
            MembershipStore(clients.dynamodb(), table),
            table,
        )
        others = [groups.create("bench", {"displayName": f"Team {n}"}).id for n in range(50)]
        for other in others:
            seed_members("bench", other, [leaver])
        stack.skip_pending()  # the set-up's ~3 stream records per seeded item trigger nothing
        calls = Calls()
        path = f"/Groups/{group}"

        def once(operation: Callable[[], Any]) -> tuple[float, str]:
            calls.counter.clear()
            start = time.perf_counter()
            response = operation()
            elapsed = (time.perf_counter() - start) * 1000
            described = ", ".join(f"{n} {name}" for name, n in sorted(calls.counter.items()))
            if response.status not in (200, 204):
                # On moto a 100,000-member read can outlive the function's 29 s timeout.
                described += f" (HTTP {response.status})"
            print(f"  {size:>7,} members: {elapsed:9.1f} ms  {described}", flush=True)
            return elapsed, described

        patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
        add_100 = {
            "schemas": [patch],
            "Operations": [
                {"op": "Add", "path": "members", "value": [{"value": u} for u in newcomers]}
            ],
        }
        remove_1 = {
            "schemas": [patch],
            "Operations": [{"op": "Remove", "path": f'members[value eq "{members[0]}"]'}],
        }
        lean = f"{path}?excludedAttributes=members"
        results = [
            ("add 100 members in one PATCH", *once(lambda: client.request("PATCH", lean, add_100))),
            ("remove one member", *once(lambda: client.request("PATCH", lean, remove_1))),
            ("GET excludedAttributes=members", *once(lambda: client.get(lean))),
            ("GET with members", *once(lambda: client.get(path))),
            ("delete a user in 50 groups", *once(lambda: client.delete(f"/Users/{leaver}"))),
        ]
        return [(f"{name} ({size:,})", ms, described) for name, ms, described in results]


def access_operations(size: int) -> list[tuple[str, float, str]]:
    """A workspace granted to a group of `size` members, then one member removed, each through
    the whole chain: request → table stream → publisher → bus → queue → fan-out (in chunks)."""
    with LocalStack.start(REPO_ROOT) as stack:

        def admin(method: str, path: str, body: Any = None) -> Any:
            response = stack.request(method, f"/admin{path}", headers=_JSON, body=body)
            assert response.status < 300, response.text
            return response.json() if response.body else None

        token = admin("POST", "/orgs", {"id": "bench", "name": "Bench"})["token"]
        workspace = admin("POST", "/orgs/bench/workspaces", {"name": "Everyone's"})["id"]
        members = seed_users("bench", size)
        table = get_settings().table_name
        groups = GroupService(
            ResourceStore(clients.dynamodb(), table),
            MembershipStore(clients.dynamodb(), table),
            table,
        )
        group = groups.create("bench", {"displayName": "Everyone"}).id
        seed_members("bench", group, members)
        stack.skip_pending()  # the set-up's stream records trigger nothing
        client = ScimClient(stack, token)
        calls = Calls()
        grant_path = f"/orgs/bench/groups/{group}/grants/workspace/{workspace}"
        remove_1 = [{"op": "Remove", "path": f'members[value eq "{members[0]}"]'}]
        operations: list[tuple[str, Callable[[], Any]]] = [
            (
                "grant a workspace to the group",
                lambda: admin("PUT", grant_path, {"level": "editor"}),
            ),
            (
                "remove one member from the group",
                lambda: client.patch(f"/Groups/{group}", remove_1),
            ),
        ]
        results = []
        for name, operation in operations:
            calls.counter.clear()
            start = time.perf_counter()
            operation()  # returns once the whole chain has settled (the stack drains)
            elapsed = (time.perf_counter() - start) * 1000
            described = ", ".join(f"{n} {call}" for call, n in sorted(calls.counter.items()))
            print(f"  {size:>7,} members: {elapsed:9.1f} ms  {described}", flush=True)
            results.append((f"{name} ({size:,})", elapsed, described))
        return results


SEARCH_RUNS = 3
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search_operations(size: int) -> list[tuple[str, float, str]]:
    """List and search requests over `size` users: index-answered filters, index and cursor
    pages deep in the directory, and filters no index answers (bounded or refused)."""
    # Without each user's groups (one Query per user listed), to show the search's own cost.
    lean = "excludedAttributes=groups"
    with LocalStack.start(REPO_ROOT) as stack:
        client = ScimClient(stack, stack.create_organization("bench"))
        seed_users("bench", size)
        stack.skip_pending()
        deep = size - 100
        walked = deep // 200 * 200
        # Okta's import pages by startIndex, in order: walking there leaves the note that the
        # page at `deep` starts from (past FILTER_SCAN_LIMIT a page starts from no other).
        for start in range(1, deep + 1, 200):
            client.get(f"/Users?startIndex={start}&count={min(200, deep + 1 - start)}&{lean}")
        cursor = ""
        for _ in range(walked // 200):  # walk to the same depth by cursor, 200 a page
            cursor = client.get(
                f"/Users?count=200&cursor={cursor}&excludedAttributes=groups"
            ).json()["nextCursor"]
        calls = Calls()
        name = "seeded{:06d}@example.com"
        either = " or ".join(f'userName eq "{name.format(n)}"' for n in (1, 2, 3))
        operations: list[tuple[str, Callable[[int], Any]]] = [
            (
                "filter userName eq",
                lambda n: client.get(f'/Users?filter=userName eq "{name.format(n)}"'),
            ),
            (
                "filter of 3 userName eq joined by or",
                lambda n: client.get(f"/Users?filter={either}"),
            ),
            ("count=0 (total only)", lambda n: client.get("/Users?count=0")),
            (
                f"startIndex={deep + 1}&count=100, after the page before it",
                lambda n: client.get(f"/Users?startIndex={deep + 1}&count=100&{lean}"),
            ),
            (
                f"startIndex={deep - 49}&count=100, no page before it",
                lambda n: client.get(f"/Users?startIndex={deep - 49}&count=100&{lean}"),
            ),
            (
                f"cursor page after {walked:,}, count=200",
                lambda n: client.get(f"/Users?count=200&cursor={cursor}&{lean}"),
            ),
            (
                "unindexed filter, startIndex (tooMany)",
                lambda n: client.get(f'/Users?filter=userName co "9"&{lean}'),
            ),
            (
                "unindexed filter, first cursor page",
                lambda n: client.get(f'/Users?filter=userName co "99"&count=100&cursor=&{lean}'),
            ),
            ("sortBy=userName (tooMany)", lambda n: client.get(f"/Users?sortBy=userName&{lean}")),
            (
                "POST /.search root, id eq",
                lambda n: client.post(
                    "/.search", {"schemas": [SEARCH_REQUEST], "filter": 'id eq "x"'}
                ),
            ),
        ]
        return [
            (f"{label} ({size:,})", *measure(calls, operation, SEARCH_RUNS))
            for label, operation in operations
        ]


SECTIONS = os.environ.get(
    "BENCH_SECTIONS", "imports,memory,users,groups,access,search,load,faults,fuzz"
).split(",")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if "imports" in SECTIONS:
        print_imports()
    if "memory" in SECTIONS:
        print_memory()
    if "users" in SECTIONS:
        print(
            f"\nUser operations on the local stack (moto), {POPULATION} users in the organization, "
            f"median of {OPERATION_RUNS} runs, through authorizer + handler:"
        )
        print(f"  {'operation':<38} {'ms':>7}  DynamoDB calls")
        for name, median_ms, described in user_operations():
            print(f"  {name:<38} {median_ms:7.1f}  {described}")
    if "groups" in SECTIONS:
        sizes = os.environ.get("BENCH_GROUP_SIZES", "10000,100000").split(",")
        print(
            "\nGroup operations on the local stack (moto), one run each, "
            "through authorizer + handler:"
        )
        print(f"  {'operation (members)':<46} {'ms':>9}  DynamoDB calls")
        for size in sizes:
            for name, ms, described in group_operations(int(size)):
                print(f"  {name:<46} {ms:9.1f}  {described}")
    if "access" in SECTIONS:
        size = int(os.environ.get("BENCH_ACCESS_MEMBERS", "10000"))
        print(
            "\nAccess fan-out on the local stack (moto), one run each, from the request until the "
            "chain has settled (DynamoDB calls of every function in the chain):"
        )
        print(f"  {'operation (members)':<46} {'ms':>9}  DynamoDB calls")
        for name, ms, described in access_operations(size):
            print(f"  {name:<46} {ms:9.1f}  {described}")
    if "search" in SECTIONS:
        size = int(os.environ.get("BENCH_SEARCH_USERS", "10000"))
        print(
            f"\nList and search requests on the local stack (moto), median of {SEARCH_RUNS} runs, "
            "through authorizer + handler:"
        )
        print(f"  {'request (users)':<52} {'ms':>9}  DynamoDB calls")
        for name, ms, described in search_operations(size):
            print(f"  {name:<52} {ms:9.1f}  {described}")
    if "load" in SECTIONS:
        load.print_load()
    if "faults" in SECTIONS:
        load.print_load(load.FAULT_RATE)
    if "fuzz" in SECTIONS:
        fuzz.print_fuzz()


if __name__ == "__main__":
    main()

"""`make bench` memory section, the worker: one HTTP handler in a fresh process on moto, invoked
with its sample events (events/), adjusted so that each round works on resources it created.

`python -m tests.bench.memory <function>` prints one result line. The process imports nothing of
the shared package before the handler does (the local stack and moto do not), so the resident set
before the handler's import is the moto world's and the rest is the handler's.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from provisioning.local import LocalStack
from tests.conftest import REPO_ROOT, load_event

MEMORY_INVOCATIONS = int(os.environ.get("BENCH_MEMORY_INVOCATIONS", "1000"))
HTTP_FUNCTIONS = ("users", "groups", "discovery")
RESULT_PREFIX = "MEMORY-RESULT "

Round = Callable[[int, Sequence[str]], Iterator[dict[str, Any]]]


def rss_kib() -> int:
    """The process's resident set now (VmRSS), in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss_kib() -> int:
    """The process's peak resident set (ru_maxrss, KiB on Linux): what Lambda's memory limit
    and its `Max Memory Used` measure, unlike tracemalloc, which sees Python objects only."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    event["body"] = json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"].encode()))
    return event


def _at(event: dict[str, Any], path: str, query: str | None = None) -> dict[str, Any]:
    """A sample event sent to another path of its route (an id the round created)."""
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    if "{id}" in event["routeKey"]:
        event["pathParameters"] = {"id": path.rsplit("/", 1)[-1]}
    if query is not None:
        event["rawQueryString"] = query
    return event


def _created_path(response: dict[str, Any], collection: str) -> str:
    return f"/scim/v2/{collection}/{json.loads(response['body'])['id']}"


def users_round(number: int, _members: Sequence[str]) -> Iterator[dict[str, Any]]:
    """One user's life as the identity providers drive it: Entra's create, a read, Entra's
    PATCH, Okta's list page, Okta's deactivation, the delete. `send` each response back."""
    create = load_event("users_create_entra.json")
    body = json.loads(create["body"])
    body["userName"] = f"bench{number:05d}@contoso.com"
    body["externalId"] = f"bench-{number:05d}"
    path = _created_path((yield _with_body(create, body)), "Users")
    yield _at(load_event("users_get.json"), path)
    yield _at(load_event("users_patch_entra.json"), path)
    yield load_event("users_list_okta.json")
    yield _at(load_event("users_deactivate_okta.json"), path)
    yield _at(load_event("users_delete.json"), path)


def groups_round(number: int, members: Sequence[str]) -> Iterator[dict[str, Any]]:
    """One group's life: Entra's create, its filtered query, Entra's member add, Okta's push
    (rename and member list), Entra's member removal, the delete."""
    create = load_event("groups_create_entra.json")
    body = json.loads(create["body"])
    body["displayName"] = f"Bench group {number:05d}"
    body["externalId"] = f"bench-group-{number:05d}"
    path = _created_path((yield _with_body(create, body)), "Groups")
    name = body["displayName"].replace(" ", "+")
    query = f"excludedAttributes=members&filter=displayName+eq+%22{name}%22"
    yield _at(load_event("groups_query_entra.json"), "/scim/v2/Groups", query)
    entries = [{"value": member} for member in members]
    add = _at(load_event("groups_add_members_entra.json"), path)
    yield _with_body(
        add,
        {
            **json.loads(add["body"]),
            "Operations": [{"op": "Add", "path": "members", "value": entries}],
        },
    )
    push = _at(load_event("groups_push_okta.json"), path)
    renamed = {"displayName": f"{body['displayName']} (renamed)"}
    operations = [
        {"op": "replace", "value": renamed},
        {"op": "replace", "path": "members", "value": entries},
    ]
    yield _with_body(push, {**json.loads(push["body"]), "Operations": operations})
    remove = _at(load_event("groups_remove_member_entra.json"), path)
    removal = [{"op": "Remove", "path": f'members[value eq "{members[0]}"]'}]
    yield _with_body(remove, {**json.loads(remove["body"]), "Operations": removal})
    yield _at(load_event("groups_delete.json"), path)


def discovery_round(_number: int, _members: Sequence[str]) -> Iterator[dict[str, Any]]:
    """What a client reads of discovery: the config, the resource types, the schemas."""
    for path, route in (
        ("/scim/v2/ServiceProviderConfig", "/scim/v2/ServiceProviderConfig"),
        ("/scim/v2/ResourceTypes", "/scim/v2/ResourceTypes"),
        ("/scim/v2/ResourceTypes/User", "/scim/v2/ResourceTypes/{id}"),
        ("/scim/v2/Schemas", "/scim/v2/Schemas"),
        ("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group", "/scim/v2/Schemas/{id}"),
    ):
        event = load_event("discovery_service_provider_config.json")
        event["routeKey"] = event["requestContext"]["routeKey"] = f"ANY {route}"
        yield _at(event, path)


ROUNDS: dict[str, Round] = {
    "users": users_round,
    "groups": groups_round,
    "discovery": discovery_round,
}


def run(function: str, invocations: int = MEMORY_INVOCATIONS) -> dict[str, Any]:
    """The moto world, then the handler's import, then `invocations` invocations round after
    round; the resident set at each step and the responses' statuses."""
    from tests.handlers.test_handlers import FakeContext, load_function

    with LocalStack.start(REPO_ROOT) as stack:
        stack.create_organization("contoso")
        world_kib = rss_kib()
        handler = load_function(function).handler
        imported_kib = rss_kib()
        members: Sequence[str] = ()
        if function == "groups":  # a group's members must exist
            from tests.http.seeding import seed_users  # after the handler, which loads the same

            members = seed_users("contoso", 3)
        context = FakeContext()
        statuses: Counter[int] = Counter()
        done, number = 0, 0
        while done < invocations:
            requests = ROUNDS[function](number, members)
            response: dict[str, Any] | None = None
            try:
                while done < invocations:
                    response = handler(requests.send(response), context)
                    statuses[response["statusCode"]] += 1
                    done += 1
            except StopIteration:
                pass
            number += 1
        return {
            "world_kib": world_kib,
            "imported_kib": imported_kib,
            "final_kib": rss_kib(),
            "peak_kib": peak_rss_kib(),
            "statuses": dict(sorted(statuses.items())),
        }


if __name__ == "__main__":
    print(RESULT_PREFIX + json.dumps(run(sys.argv[1])), flush=True)

"""Concurrent clients on the local stack: eight threads sending requests through the gateway, the
authorizer and the functions, which run in as many containers at once as there are requests in
flight (as Lambda scales out). Creates of one userName make exactly one user; concurrent PATCHes
of one user or one group lose no change (a request either succeeds or is refused with 412 or
429, and a client that retries gets through); member adds racing the member's deletion leave no
membership of a deleted user. Each test ends with the consistency check finding nothing."""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from provisioning.local import LocalStack
from provisioning.local.gateway import HttpResponse
from tests.conftest import ERROR_SCHEMA, REPO_ROOT, USER_SCHEMA, ScimClient, admin_call

WORKERS = 8
ORG = "contoso"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# A client gives up after this many refusals in a row (never reached when nothing is lost).
CLIENT_ATTEMPTS = 40

T = TypeVar("T")


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    # The organization's request rate is test_org_throttling's subject; here eight clients
    # contend inside the functions, so the authorizer lets every request through.
    with LocalStack.start(REPO_ROOT, parameters={"OrgRequestsPerSecond": "10000"}) as local:
        yield local


@pytest.fixture
def scim(stack: LocalStack) -> ScimClient:
    status, created = admin_call(stack, "POST", "/orgs", {"id": ORG, "name": "Contoso"})
    assert status == 201, created
    return ScimClient(stack, created["token"], "Microsoft.Identity.Provisioning")


def concurrently(calls: Sequence[Callable[[], T]]) -> list[T]:
    """Run every call on a pool of eight threads; results in the order of `calls`."""
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(lambda call: call(), calls))


def like_a_client(send: Callable[[], HttpResponse]) -> tuple[HttpResponse, list[int]]:
    """Send until the answer is not a 429, as Entra does (it waits for Retry-After; a short
    random pause is enough here, where the contention is between these threads). Returns the
    final answer and the statuses refused before it."""
    refused: list[int] = []
    for _ in range(CLIENT_ATTEMPTS):
        response = send()
        if response.status != 429:
            return response, refused
        assert response.headers.get("retry-after"), response.headers
        refused.append(429)
        time.sleep(random.uniform(0.001, 0.02))  # noqa: S311 - jitter, not cryptography
    raise AssertionError(f"still refused after {CLIENT_ATTEMPTS} attempts")


def scim_error(response: HttpResponse, status: int) -> dict[str, Any]:
    assert response.status == status, (response.status, response.body)
    error: dict[str, Any] = response.json()
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == str(status)
    return error


def version(resource: dict[str, Any]) -> int:
    """meta.version (W/"n") as its number."""
    return int(str(resource["meta"]["version"]).removeprefix('W/"').removesuffix('"'))


def members_of(scim: ScimClient, group_id: str) -> set[str]:
    response = scim.get(f"/Groups/{group_id}")
    assert response.status == 200, response.body
    return {member["value"] for member in response.json().get("members", [])}


def violations(stack: LocalStack, org: str = ORG) -> list[dict[str, Any]]:
    """The consistency check of the organization through the admin API, followed to its end,
    after the stream → publisher → bus → queue → fan-out chain has settled."""
    stack.drain()
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, answer = admin_call(stack, "GET", f"/orgs/{org}/check" + cursor)
        assert status == 200, answer
        found += answer["violations"]
        if answer["next"] is None:
            return found
        cursor = f"?cursor={answer['next']}"


def user(user_name: str, **attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": user_name, **attributes}


def create_users(scim: ScimClient, prefix: str, count: int) -> list[str]:
    responses = concurrently(
        [
            lambda n=n: like_a_client(
                lambda: scim.post("/Users", user(f"{prefix}{n:03d}@contoso.example"))
            )[0]
            for n in range(count)
        ]
    )
    assert [r.status for r in responses] == [201] * count, [r.body for r in responses]
    return [str(r.json()["id"]) for r in responses]


def create_group(scim: ScimClient, name: str, members: Sequence[str] = ()) -> str:
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": member} for member in members],
    }
    response = scim.post("/Groups", body)
    assert response.status == 201, response.body
    return str(response.json()["id"])


# --- creates of one userName -------------------------------------------------------------------


def test_concurrent_creates_of_one_user_name_make_exactly_one_user(stack, scim):
    """RFC 7644 §3.3: a userName already taken is 409 uniqueness. userName is case-insensitive
    (RFC 7643 §4.1.1), so differently cased copies of it race for the same name."""
    spellings = ["ada@contoso.example", "Ada@Contoso.example", "ADA@CONTOSO.EXAMPLE"]
    sent = [
        user(name, externalId=f"ext-{n}")
        for n, name in zip(range(24), itertools.cycle(spellings), strict=False)
    ]
    responses = concurrently(
        [lambda body=body: like_a_client(lambda: scim.post("/Users", body))[0] for body in sent]
    )

    statuses = Counter(response.status for response in responses)
    assert statuses == {201: 1, 409: len(sent) - 1}, statuses
    for response in responses:
        if response.status == 409:
            assert scim_error(response, 409)["scimType"] == "uniqueness"
    (created,) = [response.json() for response in responses if response.status == 201]
    found = scim.get('/Users?filter=userName eq "ada@contoso.example"').json()
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == created["id"]
    # The winner's own externalId, not a loser's: a refused create wrote nothing.
    listed = scim.get("/Users").json()
    assert [u["externalId"] for u in listed["Resources"]] == [created["externalId"]]
    assert stack.runtime.containers("UsersFunction") > 1, "the creates never overlapped"
    assert violations(stack) == []


# --- PATCHes of one user -----------------------------------------------------------------------

# One attribute per client, each a different one of the core User schema (RFC 7643 §4.1.1).
USER_CHANGES = {
    "displayName": "Ada Lovelace",
    "nickName": "Ada",
    "title": "Analyst",
    "userType": "Employee",
    "preferredLanguage": "en-GB",
    "locale": "en-GB",
    "timezone": "Europe/London",
    "profileUrl": "https://contoso.example/ada",
}


def test_concurrent_patches_of_one_user_keep_every_change(stack, scim):
    ada = scim.create_user("ada@contoso.example")
    rounds = 3  # each attribute replaced three times, the last value known per attribute
    patches = [
        (attribute, f"{value} {n}")
        for n in range(rounds)
        for attribute, value in USER_CHANGES.items()
    ]

    def replace(attribute: str, value: str) -> HttpResponse:
        operations = [{"op": "replace", "path": attribute, "value": value}]
        return like_a_client(lambda: scim.patch(f"/Users/{ada['id']}", operations))[0]

    # Each attribute's rounds in order, the attributes against each other concurrently.
    def one_attribute(attribute: str) -> list[int]:
        return [replace(attribute, value).status for name, value in patches if name == attribute]

    statuses = concurrently([lambda a=a: one_attribute(a) for a in USER_CHANGES])
    assert statuses == [[200] * rounds] * len(USER_CHANGES)
    final = scim.get(f"/Users/{ada['id']}").json()
    for attribute, value in USER_CHANGES.items():
        assert final[attribute] == f"{value} {rounds - 1}", attribute
    # Every PATCH committed exactly once on top of the one before: none overwrote another.
    assert version(final) == version(ada) + len(patches)
    assert violations(stack) == []


def test_concurrent_patches_with_if_match_are_412_or_applied_never_lost(stack, scim):
    """With If-Match (RFC 7644 §3.14) a PATCH applies to the version the client read or is 412;
    a client that re-reads and retries after a 412 gets every change in."""
    ada = scim.create_user("ada@contoso.example")
    refusals: Counter[int] = Counter()

    def replace(attribute: str, value: str) -> int:
        operations = [{"op": "replace", "path": attribute, "value": value}]
        for _ in range(CLIENT_ATTEMPTS):
            current = scim.get(f"/Users/{ada['id']}")
            etag = current.headers["etag"]
            response, refused = like_a_client(
                lambda etag=etag: scim.patch(f"/Users/{ada['id']}", operations, if_match=etag)
            )
            refusals.update(refused)
            if response.status != 412:
                assert response.headers["etag"] != etag
                return response.status
            scim_error(response, 412)
            refusals[412] += 1
        raise AssertionError("never applied")

    statuses = concurrently([lambda a=a, v=v: replace(a, v) for a, v in USER_CHANGES.items()])
    assert statuses == [200] * len(USER_CHANGES)
    assert refusals[412] > 0, "no PATCH ever met another's change: the race was not run"
    final = scim.get(f"/Users/{ada['id']}").json()
    assert {a: final[a] for a in USER_CHANGES} == USER_CHANGES
    assert version(final) == version(ada) + len(USER_CHANGES)
    assert violations(stack) == []


# --- PATCHes of one group ----------------------------------------------------------------------


def test_concurrent_patches_of_one_group_keep_every_member_change(stack, scim):
    """Sixteen clients each add three users and remove one of the group's first members; the
    group ends with exactly the members every change left, none lost to another's write."""
    users = create_users(scim, "member", 16 * 3 + 16)
    first, added = users[:16], users[16:]
    group = create_group(scim, "Engineering", first)
    changes = [(added[3 * n : 3 * n + 3], first[n]) for n in range(16)]

    def change(adds: list[str], removed: str) -> int:
        operations = [
            {"op": "add", "path": "members", "value": [{"value": u} for u in adds]},
            {"op": "remove", "path": f'members[value eq "{removed}"]'},
        ]
        response = like_a_client(lambda: scim.patch(f"/Groups/{group}", operations))[0]
        return response.status

    statuses = concurrently([lambda c=c: change(*c) for c in changes])
    assert set(statuses) <= {200, 204}, statuses
    assert members_of(scim, group) == set(added)
    assert stack.runtime.containers("GroupsFunction") > 1, "the PATCHes never overlapped"
    assert violations(stack) == []


def test_concurrent_renames_and_member_adds_of_one_group(stack, scim):
    """Okta renames a group on every membership push: renames and member adds interleave."""
    users = create_users(scim, "pushed", 24)
    group = create_group(scim, "Sales")

    def push(n: int) -> int:
        operations = [
            {"op": "replace", "path": "displayName", "value": f"Sales {n}"},
            {"op": "add", "path": "members", "value": [{"value": users[n]}]},
        ]
        return like_a_client(lambda: scim.patch(f"/Groups/{group}", operations))[0].status

    statuses = concurrently([lambda n=n: push(n) for n in range(len(users))])
    assert set(statuses) <= {200, 204}, statuses
    assert members_of(scim, group) == set(users)
    name = scim.get(f"/Groups/{group}").json()["displayName"]
    assert name in {f"Sales {n}" for n in range(len(users))}
    found = scim.get(f'/Groups?filter=displayName eq "{name}"').json()
    assert [g["id"] for g in found["Resources"]] == [group]
    assert violations(stack) == []


# --- member adds racing the member's deletion --------------------------------------------------


def test_member_adds_racing_the_users_deletion_leave_no_membership_of_a_deleted_user(stack, scim):
    """Seven clients add a user (with a bystander) to seven groups while an eighth deletes the
    user, eight times over. The groups carry a workspace grant, so the fan-out records access
    too. An add either commits before the deletion (which then removes the membership) or is
    refused whole (400 invalidValue: the id no longer names a user; RFC 7644 §3.5.2) — never a
    membership pointing at a deleted user, and the bystander is in a group exactly when the
    change naming it succeeded."""
    status, workspace = admin_call(stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Ops"})
    assert status == 201, workspace
    groups = [create_group(scim, f"Team {n}") for n in range(WORKERS - 1)]
    for group in groups:
        status, grant = admin_call(
            stack,
            "PUT",
            f"/orgs/{ORG}/groups/{group}/grants/workspace/{workspace['id']}",
            {"level": "viewer"},
        )
        assert status in (200, 201), grant
    rounds = 8
    victims = create_users(scim, "victim", rounds)
    bystanders = create_users(scim, "bystander", rounds * len(groups))
    outcomes: Counter[str] = Counter()

    for round_, victim in enumerate(victims):
        pairs = list(zip(groups, bystanders[round_ * len(groups) :], strict=False))

        def add(group: str, bystander: str, victim: str = victim) -> tuple[str, str, int]:
            operations = [
                {
                    "op": "add",
                    "path": "members",
                    "value": [{"value": victim}, {"value": bystander}],
                }
            ]
            response = like_a_client(lambda: scim.patch(f"/Groups/{group}", operations))[0]
            if response.status == 400:
                assert scim_error(response, 400)["scimType"] == "invalidValue"
            return group, bystander, response.status

        def delete(victim: str = victim) -> tuple[str, str, int]:
            return "", victim, like_a_client(lambda: scim.delete(f"/Users/{victim}"))[0].status

        calls: list[Callable[[], tuple[str, str, int]]] = [
            lambda g=g, b=b: add(g, b) for g, b in pairs
        ]
        calls.insert(round_ % WORKERS, delete)
        for group, bystander, status in concurrently(calls):
            if not group:
                assert status == 204
                continue
            assert status in (200, 204, 400), status
            outcomes["added" if status != 400 else "refused"] += 1
            assert (bystander in members_of(scim, group)) == (status != 400)

    stack.drain()
    for group in groups:
        assert not members_of(scim, group) & set(victims)
    for victim in victims:
        assert scim.get(f"/Users/{victim}").status == 404
    assert sum(outcomes.values()) == rounds * len(groups)
    assert violations(stack) == []

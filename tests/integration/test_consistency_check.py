"""The consistency check on the local stack: an organization after a realistic flow (users,
groups, memberships, grants through the fan-out, a direct grant, deactivation, deletions) checks
clean; each way of corrupting the table straight through boto3 is reported as exactly its
violation, the repair fixes it (with the access events the fan-out would have emitted), and
the check is clean again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from provisioning import clients
from provisioning.settings import get_settings
from tests.conftest import ScimClient, admin_call
from tests.http.seeding import seed_users
from tests.integration.test_dynamodb_calls import CallCounter

ORG = "acme"
OTHER_ORG = "globex"


@dataclass
class World:
    """The organization after the flow, and the ids a corruption refers to."""

    stack: Any
    scim: ScimClient
    workspace: str
    home: str
    deals: str
    ada: str  # Sales (editor on the workspace) and Ops (viewer on Deals)
    bob: str  # left Sales; Ops only
    cyd: str  # Sales, deactivated
    dan: str  # no group; a direct checker grant on Deals
    eve: str  # deleted (was in Sales)
    sales: str
    ops: str
    temp: str  # deleted group (had a grant on the workspace)
    old_workspace: str  # deleted workspace (had a grant of Sales)

    @property
    def table(self) -> str:
        return get_settings().table_name

    def put(self, item: dict[str, Any]) -> None:
        clients.dynamodb().put_item(TableName=self.table, Item=item)

    def delete(self, pk: str, sk: str) -> None:
        clients.dynamodb().delete_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}})

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            clients.dynamodb()
            .get_item(
                TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
            )
            .get("Item")
        )
        return item


def admin(stack, method: str, path: str, body: Any = None) -> Any:
    status, answer = admin_call(stack, method, f"/orgs/{ORG}{path}", body)
    assert status in (200, 201, 204), (status, answer)
    return answer


def members_patch(add: list[str] = (), remove: list[str] = ()) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    if add:
        operations.append({"op": "add", "path": "members", "value": [{"value": u} for u in add]})
    operations += [{"op": "remove", "path": f'members[value eq "{u}"]'} for u in remove]
    return operations


def group(scim: ScimClient, name: str, members: list[str], **attributes: Any) -> str:
    body = {"displayName": name, "members": [{"value": m} for m in members], **attributes}
    response = scim.post("/Groups", body)
    assert response.status == 201, response.body
    return str(response.json()["id"])


@pytest.fixture
def world(stack) -> World:
    status, created = admin_call(stack, "POST", "/orgs", {"id": ORG, "name": "Acme"})
    assert status == 201, created
    scim = ScimClient(stack, created["token"], "Microsoft.Identity.Provisioning")
    workspace = admin(stack, "POST", "/workspaces", {"name": "Sales"})
    deals = admin(stack, "POST", f"/workspaces/{workspace['id']}/folders", {"name": "Deals"})
    old = admin(stack, "POST", "/workspaces", {"name": "Old"})
    ada, bob, cyd, dan, eve = (
        scim.create_user(f"{name}@acme.example", externalId=f"ext-{name}")["id"]
        for name in ("ada", "bob", "cyd", "dan", "eve")
    )
    sales = group(scim, "Sales", [ada, bob, cyd, eve], externalId="ext-sales")
    ops = group(scim, "Ops", [ada, bob])
    temp = group(scim, "Temp", [dan])
    admin(stack, "PUT", f"/groups/{sales}/grants/workspace/{workspace['id']}", {"level": "editor"})
    admin(stack, "PUT", f"/groups/{ops}/grants/folder/{deals['id']}", {"level": "viewer"})
    admin(stack, "PUT", f"/groups/{temp}/grants/workspace/{workspace['id']}", {"level": "viewer"})
    admin(stack, "PUT", f"/groups/{sales}/grants/workspace/{old['id']}", {"level": "viewer"})
    admin(stack, "PUT", f"/users/{dan}/grants/folder/{deals['id']}", {"level": "checker"})
    assert scim.patch(f"/Groups/{sales}", members_patch(remove=[bob])).status in (200, 204)
    deactivate = [{"op": "Replace", "path": "active", "value": "False"}]
    assert scim.patch(f"/Users/{cyd}", deactivate).status == 200
    assert scim.delete(f"/Users/{eve}").status == 204
    assert scim.delete(f"/Groups/{temp}").status == 204
    admin(stack, "DELETE", f"/workspaces/{old['id']}")
    # A second organization, never corrupted: the check of one never reports the other's items.
    admin_call(stack, "POST", "/orgs", {"id": OTHER_ORG})
    return World(
        stack,
        scim,
        workspace["id"],
        workspace["homeFolderId"],
        deals["id"],
        ada,
        bob,
        cyd,
        dan,
        eve,
        sales,
        ops,
        temp,
        old["id"],
    )


def check(stack, repair: bool = False, org: str = ORG, **params: str) -> dict[str, Any]:
    """Run the check through the admin API to its end, following the cursor."""
    violations: list[dict[str, Any]] = []
    cursor: str | None = None
    requests = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        method, path = ("POST", "/check/repair") if repair else ("GET", "/check")
        status, answer = admin_call(
            stack, method, f"/orgs/{org}{path}?" + "&".join(f"{k}={v}" for k, v in query.items())
        )
        assert status == 200, answer
        requests += 1
        violations += answer["violations"]
        cursor = answer["next"]
        if cursor is None:
            return {"violations": violations, "requests": requests}


def kinds(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((v["kind"], v["item"]["pk"], v["item"]["sk"]) for v in result["violations"])


def access_events(world: World) -> list[dict[str, Any]]:
    """The access changes of every Access.Granted / Access.Revoked outbox event, in order."""
    items = clients.dynamodb().query(
        TableName=world.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"OUTBOX#{ORG}"}},
    )["Items"]
    changes = []
    for item in items:
        if item["detailType"]["S"] in ("Access.Granted", "Access.Revoked"):
            changes += json.loads(item["detail"]["S"])["changes"]
    return changes


def record(world: World, user: str, target: str) -> dict[str, Any] | None:
    return world.get(f"ORG#{ORG}#USER#{user}#ACCESS", target)


# --- a clean organization -------------------------------------------------------------------


def test_the_organization_after_a_realistic_flow_checks_clean(world):
    assert check(world.stack)["violations"] == []
    assert check(world.stack, org=OTHER_ORG)["violations"] == []


def test_the_flow_left_what_the_check_relies_on(world):
    """The fixture really exercised the paths: a retained-free automatic org where the deleted
    user, group and workspace left nothing behind, and the deactivated user's access is
    suspended, not gone."""
    cyd = record(world, world.cyd, f"workspace:{world.workspace}")
    assert cyd is not None
    assert cyd["active"] == {"BOOL": False}
    assert "level" not in cyd
    assert record(world, world.eve, f"workspace:{world.workspace}") is None
    bob = record(world, world.bob, f"workspace:{world.workspace}")
    assert bob is not None
    assert "level" not in bob
    dan = record(world, world.dan, f"folder:{world.deals}")
    assert dan is not None
    assert dan["level"] == {"S": "checker"}


def test_a_check_of_an_unknown_organization_is_a_404(world):
    status, answer = admin_call(world.stack, "GET", "/orgs/nobody/check")
    assert (status, answer["error"]) == (404, "notFound")


def test_a_cursor_not_from_the_check_is_a_400(world):
    status, answer = admin_call(world.stack, "GET", f"/orgs/{ORG}/check?cursor=bm9wZQ")
    assert (status, answer["error"]) == (400, "invalidInput")


def test_a_small_budget_resumes_with_cursors_and_finds_the_same(world):
    world.delete(f"ORG#{ORG}", "UNIQUE#User#userName#ada@acme.example")
    whole = check(world.stack)
    paged = check(world.stack, maxSeconds="0.000001")
    assert whole["requests"] == 1
    assert paged["requests"] > 10
    assert (
        kinds(paged)
        == kinds(whole)
        == [("missing_guard", f"ORG#{ORG}", "UNIQUE#User#userName#ada@acme.example")]
    )


# --- corruptions ----------------------------------------------------------------------------


def _record_item(user: str, target: str, sources: list[dict[str, Any]], level: str | None):
    kind, _, target_id = target.partition(":")
    item: dict[str, Any] = {
        "pk": {"S": f"ORG#{ORG}#USER#{user}#ACCESS"},
        "sk": {"S": target},
        "kind": {"S": "Access"},
        "userId": {"S": user},
        "targetType": {"S": kind},
        "targetId": {"S": target_id},
        "sources": {"S": json.dumps(sources)},
        "active": {"BOOL": True},
        "version": {"N": "7"},
        "gsi2pk": {"S": f"ORG#{ORG}#RECORDS#{target}"},
        "gsi2sk": {"S": user},
    }
    if level:
        item["level"] = {"S": level}
        item["gsi1pk"] = {"S": f"ORG#{ORG}#ACCESS#{target}"}
        item["gsi1sk"] = {"S": user}
    return item


def orphan_guard(world: World) -> tuple[str, str, str]:
    sk = "UNIQUE#User#userName#ghost@acme.example"
    world.put({"pk": {"S": f"ORG#{ORG}"}, "sk": {"S": sk}, "ownerId": {"S": "no-such-user"}})
    return "orphan_guard", f"ORG#{ORG}", sk


def missing_guard(world: World) -> tuple[str, str, str]:
    sk = "UNIQUE#Group#externalId#ext-sales"
    world.delete(f"ORG#{ORG}", sk)
    return "missing_guard", f"ORG#{ORG}", sk


def guard_for_an_old_value(world: World) -> tuple[str, str, str]:
    sk = "UNIQUE#User#externalId#ext-ada-before"
    world.put({"pk": {"S": f"ORG#{ORG}"}, "sk": {"S": sk}, "ownerId": {"S": world.ada}})
    return "stale_guard", f"ORG#{ORG}", sk


def wrong_counter(world: World) -> tuple[str, str, str]:
    world.put({"pk": {"S": f"ORG#{ORG}"}, "sk": {"S": "COUNT#User"}, "total": {"N": "9"}})
    return "counter_mismatch", f"ORG#{ORG}", "COUNT#User"


def membership_of_a_deleted_user(world: World) -> tuple[str, str, str]:
    pk = f"ORG#{ORG}#GROUP#{world.ops}"
    world.put(
        {
            "pk": {"S": pk},
            "sk": {"S": f"MEMBER#{world.eve}"},
            "kind": {"S": "Membership"},
            "gsi1pk": {"S": f"ORG#{ORG}#USER#{world.eve}#GROUPS"},
            "gsi1sk": {"S": world.ops},
        }
    )
    return "membership_of_deleted_user", pk, f"MEMBER#{world.eve}"


def membership_of_a_deleted_group(world: World) -> tuple[str, str, str]:
    pk = f"ORG#{ORG}#GROUP#{world.temp}"
    world.put(
        {
            "pk": {"S": pk},
            "sk": {"S": f"MEMBER#{world.ada}"},
            "kind": {"S": "Membership"},
            "gsi1pk": {"S": f"ORG#{ORG}#USER#{world.ada}#GROUPS"},
            "gsi1sk": {"S": world.temp},
        }
    )
    return "membership_of_deleted_group", pk, f"MEMBER#{world.ada}"


def missing_access_record(world: World) -> tuple[str, str, str]:
    pk, sk = f"ORG#{ORG}#USER#{world.ada}#ACCESS", f"folder:{world.home}"
    world.delete(pk, sk)
    return "access_missing", pk, sk


def extra_access_record(world: World) -> tuple[str, str, str]:
    # bob left Sales: his record on the workspace stayed without sources; it claims one again.
    target = f"workspace:{world.workspace}"
    via = {"type": "workspace", "id": world.workspace}
    source = {"type": "group", "level": "editor", "groupId": world.sales, "via": via}
    world.put(_record_item(world.bob, target, [source], "editor"))
    return "access_extra", f"ORG#{ORG}#USER#{world.bob}#ACCESS", target


def wrong_level(world: World) -> tuple[str, str, str]:
    target = f"workspace:{world.workspace}"
    via = {"type": "workspace", "id": world.workspace}
    source = {"type": "group", "level": "viewer", "groupId": world.sales, "via": via}
    world.put(_record_item(world.ada, target, [source], "viewer"))
    return "access_wrong_level", f"ORG#{ORG}#USER#{world.ada}#ACCESS", target


def access_on_a_deleted_workspace(world: World) -> tuple[str, str, str]:
    target = f"workspace:{world.old_workspace}"
    world.put(_record_item(world.ada, target, [{"type": "direct", "level": "editor"}], "editor"))
    return "access_on_deleted_target", f"ORG#{ORG}#USER#{world.ada}#ACCESS", target


def record_of_a_deleted_user(world: World) -> tuple[str, str, str]:
    target = f"folder:{world.deals}"
    world.put(_record_item(world.eve, target, [{"type": "direct", "level": "viewer"}], "viewer"))
    return "access_of_deleted_user", f"ORG#{ORG}#USER#{world.eve}#ACCESS", target


def _grant_item(group: str, target: str, level: str) -> dict[str, Any]:
    """A group's grant on `target` (`workspace:<id>` / `folder:<id>`), as the store lays it out."""
    kind, _, target_id = target.partition(":")
    return {
        "pk": {"S": f"ORG#{ORG}#GROUP#{group}"},
        "sk": {"S": f"GRANT#{target}"},
        "kind": {"S": "GroupGrant"},
        "groupId": {"S": group},
        "targetType": {"S": kind},
        "targetId": {"S": target_id},
        "level": {"S": level},
        "gsi2pk": {"S": f"ORG#{ORG}#GRANTS#{target}"},
        "gsi2sk": {"S": group},
    }


def grant_on_a_deleted_workspace(world: World) -> tuple[str, str, str]:
    item = _grant_item(world.ops, f"workspace:{world.old_workspace}", "editor")
    world.put(item)
    return "grant_on_deleted_target", item["pk"]["S"], item["sk"]["S"]


def grant_of_a_deleted_group(world: World) -> tuple[str, str, str]:
    item = _grant_item(world.temp, f"folder:{world.deals}", "viewer")
    world.put(item)
    return "grant_of_deleted_group", item["pk"]["S"], item["sk"]["S"]


def folder_of_a_deleted_workspace(world: World) -> tuple[str, str, str]:
    sk = "Folder#stray"
    world.put(
        {
            "pk": {"S": f"ORG#{ORG}"},
            "sk": {"S": sk},
            "kind": {"S": "Folder"},
            "name": {"S": "Stray"},
            "workspaceId": {"S": world.old_workspace},
            "home": {"BOOL": False},
            "gsi1pk": {"S": f"ORG#{ORG}#WORKSPACE#{world.old_workspace}#FOLDERS"},
            "gsi1sk": {"S": "stray"},
        }
    )
    return "folder_of_deleted_workspace", f"ORG#{ORG}", sk


def resource_index_key_changed(world: World) -> tuple[str, str, str]:
    sk = f"User#{world.ada}"
    item = world.get(f"ORG#{ORG}", sk)
    assert item is not None
    world.put({**item, "gsi1sk": {"S": "someone-else@acme.example"}})
    return "resource_index_mismatch", f"ORG#{ORG}", sk


def membership_index_key_changed(world: World) -> tuple[str, str, str]:
    pk, sk = f"ORG#{ORG}#GROUP#{world.sales}", f"MEMBER#{world.ada}"
    item = world.get(pk, sk)
    assert item is not None
    world.put({**item, "gsi1sk": {"S": "no-such-group"}})
    return "membership_index_mismatch", pk, sk


CORRUPTIONS: dict[str, Callable[[World], tuple[str, str, str]]] = {
    "orphan guard": orphan_guard,
    "missing guard": missing_guard,
    "guard for an old value": guard_for_an_old_value,
    "wrong counter": wrong_counter,
    "membership to a deleted user": membership_of_a_deleted_user,
    "membership to a deleted group": membership_of_a_deleted_group,
    "access record missing": missing_access_record,
    "access record extra": extra_access_record,
    "access record with the wrong level": wrong_level,
    "access on a deleted workspace": access_on_a_deleted_workspace,
    "record for a deleted user": record_of_a_deleted_user,
    "grant on a deleted workspace": grant_on_a_deleted_workspace,
    "grant of a deleted group": grant_of_a_deleted_group,
    "folder of a deleted workspace": folder_of_a_deleted_workspace,
    "resource index key changed": resource_index_key_changed,
    "membership index key changed": membership_index_key_changed,
}


def test_two_users_holding_one_value_are_reported_and_left_to_an_admin(world):
    """A duplicate userName: the guard names one holder, the other is reported, not repaired."""
    item = world.get(f"ORG#{ORG}", f"User#{world.bob}")
    assert item is not None
    body = json.loads(item["body"]["S"])
    body["userName"] = "ada@acme.example"
    world.put({**item, "body": {"S": json.dumps(body)}, "gsi1sk": {"S": "ada@acme.example"}})
    world.delete(f"ORG#{ORG}", "UNIQUE#User#userName#bob@acme.example")
    expected = [("duplicate_value", f"ORG#{ORG}", f"User#{world.bob}")]
    assert kinds(check(world.stack)) == expected
    repaired = check(world.stack, repair=True)
    assert kinds(repaired) == expected
    assert not repaired["violations"][0]["repaired"]


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_a_corruption_is_reported_exactly_repaired_and_gone(world, corrupt):
    expected = corrupt(world)
    assert kinds(check(world.stack)) == [expected]
    repaired = check(world.stack, repair=True)
    assert kinds(repaired) == [expected]
    assert all(v["repaired"] for v in repaired["violations"])
    assert check(world.stack)["violations"] == []
    assert check(world.stack, org=OTHER_ORG)["violations"] == []


# --- events and DynamoDB calls --------------------------------------------------------------


def test_access_repairs_carry_the_events_the_fan_out_would_emit(world):
    missing_access_record(world)
    wrong_level(world)
    record_of_a_deleted_user(world)
    before = len(access_events(world))
    check(world.stack, repair=True)
    changes = access_events(world)[before:]

    def change(user: str, target: str, level: str | None, previous: str | None) -> dict:
        kind, _, target_id = target.partition(":")
        return {
            "userId": user,
            "target": {"type": kind, "id": target_id},
            "level": level,
            "previousLevel": previous,
        }

    assert sorted(changes, key=json.dumps) == sorted(
        [
            change(world.ada, f"folder:{world.home}", "editor", None),
            change(world.ada, f"workspace:{world.workspace}", "editor", "viewer"),
            change(world.eve, f"folder:{world.deals}", None, "viewer"),
        ],
        key=json.dumps,
    )


@pytest.fixture
def admin_calls(stack):
    counting = CallCounter()
    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb", counting)
    yield counting
    events.unregister("before-call.dynamodb", counting)


def test_the_check_reads_with_query_and_key_lookups_only(world, admin_calls):
    """No Scan and no item-by-item GetItem: each user costs its page share, one Query of its
    groups (GSI1) and one of its records; what grows with N is Query."""
    counts = []
    for extra in (0, 60):
        seed_users(ORG, extra, prefix=f"extra{extra}-")
        with admin_calls.measure("AdminFunction") as calls:
            assert check(world.stack)["violations"] == []
        counts.append(calls)
    for calls in counts:
        assert set(calls) == {"Query", "BatchGetItem"}
    # Two Queries per user, and two more pages of 25 users in the access walk.
    assert counts[1]["Query"] - counts[0]["Query"] == 2 * 60 + 2
    # Existence checks go 100 keys a call: 60 more users need none of their own here.
    assert counts[1]["BatchGetItem"] == counts[0]["BatchGetItem"]

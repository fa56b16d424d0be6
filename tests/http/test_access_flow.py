"""The seed's whole flow through the local stack: SCIM requests and admin calls in, access out,
through table stream → publisher → event bus → queue → fan-out, all driven by the stack."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning import clients
from provisioning.store.access import AccessStore
from tests.conftest import ScimClient, admin_call, consistency_violations
from tests.eventbus import PutEventsCalls, rejecting

ORG = "acme"


class Admin:
    """The organization's admin, through the admin API."""

    def __init__(self, stack) -> None:
        self.stack = stack

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = admin_call(self.stack, method, f"/orgs/{ORG}{path}", body)
        assert status in (200, 201, 204), (status, answer)
        return answer

    def access(self, user_id: str) -> dict[str, str | None]:
        """The user's effective level per target (`workspace:<id>` / `folder:<id>`)."""
        records = self("GET", f"/users/{user_id}/access")["access"]
        return {f"{r['target']['type']}:{r['target']['id']}": r["level"] for r in records}


@pytest.fixture
def admin(stack) -> Admin:
    return Admin(stack)


@pytest.fixture
def scim(stack) -> ScimClient:
    status, created = admin_call(stack, "POST", "/orgs", {"id": ORG, "name": "Acme"})
    assert status == 201, created
    return ScimClient(stack, created["token"], "Microsoft.Identity.Provisioning")


@pytest.fixture
def workspace(admin, scim) -> dict[str, Any]:
    created = admin("POST", "/workspaces", {"name": "Sales"})
    folder = admin("POST", f"/workspaces/{created['id']}/folders", {"name": "Deals"})
    return {"id": created["id"], "home": created["homeFolderId"], "deals": folder["id"]}


def remove_member(scim: ScimClient, group_id: str, user_id: str) -> None:
    path = f'members[value eq "{user_id}"]'
    response = scim.patch(f"/Groups/{group_id}", [{"op": "Remove", "path": path}])
    assert response.status in (200, 204), response.body


def set_active(scim: ScimClient, user_id: str, active: bool) -> None:
    operations = [{"op": "Replace", "path": "active", "value": "True" if active else "False"}]
    assert scim.patch(f"/Users/{user_id}", operations).status == 200


@pytest.mark.parametrize("revocation", ["automatic", "manual"])
def test_the_seeds_whole_flow(admin, scim, workspace, revocation):
    admin("PATCH", "/settings", {"folderRevocation": revocation})
    ada = scim.create_user("ada@acme.example", active=True)["id"]
    bob = scim.create_user("bob@acme.example", active=True)["id"]
    group = scim.post(
        "/Groups", {"displayName": "Sales", "members": [{"value": ada}, {"value": bob}]}
    ).json()["id"]
    w, home, deals = (
        f"workspace:{workspace['id']}",
        f"folder:{workspace['home']}",
        f"folder:{workspace['deals']}",
    )

    admin("PUT", f"/groups/{group}/grants/workspace/{workspace['id']}", {"level": "editor"})
    assert admin.access(ada) == {w: "editor", home: "editor"}

    admin("PUT", f"/groups/{group}/grants/folder/{workspace['deals']}", {"level": "viewer"})
    assert admin.access(bob) == {w: "editor", home: "editor", deals: "viewer"}

    remove_member(scim, group, bob)
    kept = {home: "editor", deals: "viewer"} if revocation == "manual" else {}
    assert admin.access(bob) == kept
    explained = admin("GET", f"/users/{bob}/access/folder/{workspace['deals']}")
    expected_sources = [{"type": "retained", "groupId": group}] if kept else []
    assert [
        {"type": s["type"], "groupId": s["groupId"]} for s in explained["sources"]
    ] == expected_sources

    set_active(scim, ada, False)
    assert set(admin.access(ada).values()) == {None}
    set_active(scim, ada, True)
    assert admin.access(ada) == {w: "editor", home: "editor", deals: "viewer"}

    assert scim.delete(f"/Users/{ada}").status == 204
    status, _ = admin_call(admin.stack, "GET", f"/orgs/{ORG}/users/{ada}/access")
    assert status == 404
    holders = admin("GET", f"/workspaces/{workspace['id']}/access")["access"]
    assert ada not in {record["userId"] for record in holders}


def test_a_member_added_later_gets_the_groups_access(admin, scim, workspace):
    group = scim.post("/Groups", {"displayName": "Sales"}).json()["id"]
    admin("PUT", f"/groups/{group}/grants/folder/{workspace['deals']}", {"level": "checker"})
    carol = scim.create_user("carol@acme.example")["id"]
    operations = [{"op": "Add", "path": "members", "value": [{"value": carol}]}]
    assert scim.patch(f"/Groups/{group}", operations).status in (200, 204)
    assert admin.access(carol) == {f"folder:{workspace['deals']}": "checker"}


def test_deleting_a_group_takes_its_access_away(admin, scim, workspace):
    dave = scim.create_user("dave@acme.example")["id"]
    group = scim.post("/Groups", {"displayName": "Temp", "members": [{"value": dave}]}).json()
    admin("PUT", f"/groups/{group['id']}/grants/workspace/{workspace['id']}", {"level": "viewer"})
    assert scim.delete(f"/Groups/{group['id']}").status == 204
    assert admin.access(dave) == {}


def test_a_put_events_failure_heals_and_loses_nothing(admin, scim, workspace):
    """EventBridge rejects the first PutEvents entry: the publisher reports the record, the
    stream retries it, and the grant still reaches the member."""
    eve = scim.create_user("eve@acme.example")["id"]
    group = scim.post("/Groups", {"displayName": "Ops", "members": [{"value": eve}]}).json()["id"]
    calls = PutEventsCalls(clients.events(), {0: rejecting(admin.stack.world.client("events"), 0)})
    admin("PUT", f"/groups/{group}/grants/folder/{workspace['deals']}", {"level": "editor"})
    assert len(calls.entries) > 1  # the rejected entry went again
    assert admin.access(eve) == {f"folder:{workspace['deals']}": "editor"}
    assert consistency_violations(admin.stack, ORG) == []


def test_a_fanout_crash_midway_converges_when_the_message_comes_back(
    admin, scim, workspace, monkeypatch
):
    """The fan-out dies after its first transaction: SQS delivers the message again and the
    retry completes the grant."""
    monkeypatch.setattr("provisioning.access.fanout.USERS_PER_ROUND", 2)
    users = [scim.create_user(f"user{n}@acme.example")["id"] for n in range(5)]
    group = scim.post(
        "/Groups", {"displayName": "Many", "members": [{"value": u} for u in users]}
    ).json()["id"]
    real_commit = AccessStore.commit
    commits: list[int] = []

    def crash_on_the_second(self, items):
        commits.append(len(items))
        if len(commits) == 2:
            raise RuntimeError("the container died")
        real_commit(self, items)

    monkeypatch.setattr(AccessStore, "commit", crash_on_the_second)
    admin("PUT", f"/groups/{group}/grants/workspace/{workspace['id']}", {"level": "viewer"})
    assert len(commits) > 3  # the first attempt stopped at 2; the redelivery did the rest
    for user in users:
        assert admin.access(user) == {
            f"workspace:{workspace['id']}": "viewer",
            f"folder:{workspace['home']}": "viewer",
        }
    assert consistency_violations(admin.stack, ORG) == []

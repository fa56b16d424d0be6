"""ETags and conditional requests over HTTP (RFC 7644 §3.14, RFC 7232 §3.1, §3.2, §6).

Every resource carries its version as `meta.version` and, alone in a response, as the `ETag`
header. `If-Match` that names no current version is 412 on GET, PUT, PATCH and DELETE;
`If-None-Match` naming the current version is 304 on GET and 412 on the writes. Tags compare
weakly (RFC 7644 §3.14 prefers weak ETags and sends them in If-Match)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ERROR_SCHEMA, USER_SCHEMA, ScimClient

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def refused(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The response is a SCIM Error (RFC 7644 §3.12) with this status and scimType."""
    assert response.status == status, response.body
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def snapshot(client: ScimClient, path: str) -> dict[str, Any]:
    """The resource as stored, whole (related attributes and meta included)."""
    response = client.get(path)
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


class Kind:
    """A resource type seen from a client: how to make one and how to change it a little."""

    def __init__(self, name: str) -> None:
        self.name = name

    def create(self, client: ScimClient, label: str) -> str:
        if self.name == "Users":
            return str(client.create_user(f"{label}@contoso.com")["id"])
        response = client.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": label})
        assert response.status == 201, response.body
        return str(response.json()["id"])

    def patch_body(self, value: str) -> list[dict[str, Any]]:
        attribute = "title" if self.name == "Users" else "displayName"
        return [{"op": "replace", "path": attribute, "value": value}]

    def put_body(self, client: ScimClient, path: str, value: str) -> dict[str, Any]:
        current = snapshot(client, path)
        if self.name == "Users":
            return {"schemas": [USER_SCHEMA], "userName": current["userName"], "title": value}
        return {"schemas": [GROUP_SCHEMA], "displayName": value}


@pytest.fixture(params=["Users", "Groups"])
def kind(request: pytest.FixtureRequest) -> Kind:
    return Kind(request.param)


def writes(client: ScimClient, kind: Kind, path: str, **headers: str) -> dict[str, Any]:
    """PUT, PATCH and DELETE of the resource, each with the given headers."""
    return {
        "PUT": client.put(path, kind.put_body(client, path, "via PUT"), **headers),
        "PATCH": client.patch(path, kind.patch_body("via PATCH"), **headers),
        "DELETE": client.delete(path, **headers),
    }


# --- ETags on every resource ------------------------------------------------------------------


def test_every_single_resource_response_carries_its_version_as_etag(contoso, kind):
    """RFC 7644 §3.14: the ETag header and `meta.version` (RFC 7643 §3.1, weak: `W/`) agree on
    POST, GET, PUT and PATCH, and move with each change."""
    created = (
        contoso.post("/Users", {"userName": "tagged@contoso.com"})
        if kind.name == "Users"
        else contoso.post("/Groups", {"displayName": "Tagged"})
    )
    path = f"/{kind.name}/{created.json()['id']}"
    responses = [
        created,
        contoso.get(path),
        contoso.put(path, kind.put_body(contoso, path, "one")),
        contoso.patch(path, kind.patch_body("two")),
    ]
    versions = [r.json()["meta"]["version"] for r in responses]
    assert [r.headers["etag"] for r in responses] == versions
    assert versions == ['W/"1"', 'W/"1"', 'W/"2"', 'W/"3"']


def test_each_resource_of_a_list_carries_its_version(contoso, kind):
    """A list response has no ETag of its own, but each resource has `meta.version`, the very
    ETag a GET of it answers."""
    ids = [kind.create(contoso, f"listed{n}") for n in range(3)]
    contoso.patch(f"/{kind.name}/{ids[1]}", kind.patch_body("changed"))
    listed = contoso.get(f"/{kind.name}").json()["Resources"]
    assert {r["id"]: r["meta"]["version"] for r in listed} == {
        i: contoso.get(f"/{kind.name}/{i}").headers["etag"] for i in ids
    }
    assert {r["meta"]["version"] for r in listed} == {'W/"1"', 'W/"2"'}


# --- If-Match -----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ['W/"{v}"', '"{v}"', 'W/"9", W/"{v}"', "*"])
def test_if_match_naming_the_current_version_lets_each_write_through(contoso, kind, header):
    """RFC 7232 §3.1: the current tag, alone, in a list, strong or weak, or `*`."""
    path = f"/{kind.name}/{kind.create(contoso, 'current')}"
    contoso.patch(path, kind.patch_body("version two"))
    put = contoso.put(path, kind.put_body(contoso, path, "put"), if_match=header.format(v=2))
    assert put.status == 200, put.body
    assert put.headers["etag"] == 'W/"3"'
    patched = contoso.patch(path, kind.patch_body("patched"), if_match=header.format(v=3))
    assert patched.status == 200, patched.body
    assert patched.headers["etag"] == 'W/"4"'
    assert contoso.delete(path, if_match=header.format(v=4)).status == 204
    assert contoso.get(path).status == 404


@pytest.mark.parametrize("header", ['W/"1"', 'W/"1", W/"3"', '"1"', "1", "W/1", ""])
def test_if_match_naming_no_current_version_is_412_and_changes_nothing(contoso, kind, header):
    """RFC 7232 §3.1: the method is not performed; a malformed tag names no version. RFC 7644
    §3.12 gives 412 no scimType."""
    resource_id = kind.create(contoso, "stale")
    path = f"/{kind.name}/{resource_id}"
    contoso.patch(path, kind.patch_body("version two"))
    before = snapshot(contoso, path)
    for method, response in writes(contoso, kind, path, if_match=header).items():
        assert response.status == 412, method
        refused(response, 412)
    assert snapshot(contoso, path) == before


def test_if_match_on_get(contoso, kind):
    """RFC 7232 §3.1 applies If-Match to any method: a GET naming an old version is 412."""
    path = f"/{kind.name}/{kind.create(contoso, 'read')}"
    contoso.patch(path, kind.patch_body("version two"))
    refused(contoso.get(path, if_match='W/"1"'), 412)
    current = contoso.get(path, if_match='W/"2"')
    assert current.status == 200
    assert current.json()["meta"]["version"] == 'W/"2"'


def test_preconditions_on_a_missing_resource_are_ignored_for_its_404(contoso, kind):
    """RFC 7232 §5: a response that would not be 2xx without the preconditions ignores them."""
    path = f"/{kind.name}/no-such-resource"
    refused(contoso.get(path, if_match="*"), 404)
    refused(contoso.delete(path, if_none_match="*"), 404)
    refused(contoso.patch(path, kind.patch_body("x"), if_match='W/"1"'), 404)


# --- If-None-Match ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ['W/"2"', '"2"', 'W/"9", W/"2"', "*"])
def test_if_none_match_on_the_current_version_is_304_without_a_body(contoso, kind, header):
    """RFC 7644 §3.14, RFC 7232 §3.2 and §4.1: 304, the ETag, no body."""
    path = f"/{kind.name}/{kind.create(contoso, 'cached')}"
    contoso.patch(path, kind.patch_body("version two"))
    response = contoso.get(path, if_none_match=header)
    assert response.status == 304
    assert response.body == b""
    assert response.headers["etag"] == 'W/"2"'


def test_if_none_match_on_an_old_version_returns_the_resource(contoso, kind):
    path = f"/{kind.name}/{kind.create(contoso, 'fresh')}"
    contoso.patch(path, kind.patch_body("version two"))
    response = contoso.get(path, if_none_match='W/"1"')
    assert response.status == 200
    assert response.json()["meta"]["version"] == response.headers["etag"] == 'W/"2"'


@pytest.mark.parametrize("header", ['W/"1"', "*", 'W/"5", "1"'])
def test_if_none_match_on_the_current_version_refuses_writes_with_412(contoso, kind, header):
    """RFC 7232 §3.2: for methods other than GET and HEAD a false If-None-Match is 412."""
    path = f"/{kind.name}/{kind.create(contoso, 'guarded')}"
    before = snapshot(contoso, path)
    for method, response in writes(contoso, kind, path, if_none_match=header).items():
        assert response.status == 412, method
        refused(response, 412)
    assert snapshot(contoso, path) == before


def test_if_none_match_on_an_old_version_lets_writes_through(contoso, kind):
    path = f"/{kind.name}/{kind.create(contoso, 'moving')}"
    assert contoso.patch(path, kind.patch_body("two"), if_none_match='W/"7"').status == 200
    put = contoso.put(path, kind.put_body(contoso, path, "three"), if_none_match='W/"1"')
    assert put.status == 200
    assert contoso.delete(path, if_none_match='W/"2"').status == 204


def test_if_match_is_evaluated_before_if_none_match(contoso):
    """RFC 7232 §6: a failed If-Match is 412 even where If-None-Match alone would be 304; with
    If-Match true, If-None-Match decides."""
    path = f"/Users/{contoso.create_user('order@contoso.com')['id']}"
    refused(contoso.get(path, if_match='W/"9"', if_none_match='W/"1"'), 412)
    assert contoso.get(path, if_match='W/"1"', if_none_match='W/"1"').status == 304
    assert contoso.get(path, if_match='W/"1"', if_none_match='W/"9"').status == 200


# --- no check-then-write race -------------------------------------------------------------------


def _services():
    from provisioning import clients
    from provisioning.scim.groups import GroupService
    from provisioning.scim.users import UserService
    from provisioning.settings import get_settings
    from provisioning.store.memberships import MembershipStore
    from provisioning.store.resources import ResourceStore

    table = get_settings().table_name
    client = clients.dynamodb()
    resources, memberships = ResourceStore(client, table), MembershipStore(client, table)
    return UserService(resources, memberships, table), GroupService(resources, memberships, table)


PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _rename(group_id: str, name: str) -> None:
    _, groups = _services()
    operations = [{"op": "replace", "path": "displayName", "value": name}]
    groups.patch("contoso", group_id, {"schemas": [PATCH], "Operations": operations})


def test_a_write_between_if_match_and_the_commit_is_412(contoso, monkeypatch):
    """The version If-Match was checked on is the version the write commits against: another
    writer who commits in between makes it 412, and its change stays."""
    from provisioning.store.resources import ResourceStore

    path = f"/Users/{contoso.create_user('raced@contoso.com')['id']}"
    original = ResourceStore.replace_items
    raced: list[bool] = []

    def replace_items(self, org_id, kind, resource, unique, previous, expected_version):
        if not raced:
            raced.append(True)
            users, _ = _services()
            operations = [{"op": "replace", "path": "nickName", "value": "the other writer"}]
            users.patch("contoso", resource.id, {"schemas": [PATCH], "Operations": operations})
        return original(self, org_id, kind, resource, unique, previous, expected_version)

    monkeypatch.setattr(ResourceStore, "replace_items", replace_items)
    response = contoso.patch(
        path, [{"op": "replace", "path": "title", "value": "mine"}], if_match='W/"1"'
    )
    refused(response, 412)
    after = snapshot(contoso, path)
    assert (after["nickName"], after["meta"]["version"]) == ("the other writer", 'W/"2"')
    assert "title" not in after


def test_a_member_change_under_if_none_match_commits_on_the_version_checked(contoso, monkeypatch):
    """Member-only changes bump the version without a condition, except under a precondition:
    here a rename commits version 2 after If-None-Match W/"2" was checked on version 1, so the
    member change must be refused (RFC 7232 §3.2), not written on top."""
    from provisioning.store.memberships import MembershipStore

    user = contoso.create_user("member@contoso.com")["id"]
    group = contoso.post("/Groups", {"displayName": "Guarded"}).json()["id"]
    original = MembershipStore.existing_members
    raced: list[bool] = []

    def existing_members(self, org_id, group_id, user_ids):
        if not raced:
            raced.append(True)
            _rename(group_id, "Renamed meanwhile")
        return original(self, org_id, group_id, user_ids)

    monkeypatch.setattr(MembershipStore, "existing_members", existing_members)
    response = contoso.patch(
        f"/Groups/{group}",
        [{"op": "add", "path": "members", "value": [{"value": user}]}],
        if_none_match='W/"2"',
    )
    refused(response, 412)
    after = snapshot(contoso, f"/Groups/{group}")
    assert (after["displayName"], after["meta"]["version"]) == ("Renamed meanwhile", 'W/"2"')
    assert "members" not in after


def test_a_user_changed_during_a_conditional_delete_keeps_its_memberships(contoso, monkeypatch):
    """A conditional DELETE removes nothing, memberships included, when the user changes after
    If-Match was checked: they are removed only at the version checked."""
    from provisioning.store.memberships import MembershipStore

    user = contoso.create_user("leaving@contoso.com")["id"]
    group = contoso.post("/Groups", {"displayName": "Kept", "members": [{"value": user}]})
    group_path = f"/Groups/{group.json()['id']}"
    original = MembershipStore.memberships_of_user
    raced: list[bool] = []

    def memberships_of_user(self, org_id, user_id, limit):
        if not raced:
            raced.append(True)
            users, _ = _services()
            operations = [{"op": "replace", "path": "title", "value": "changed meanwhile"}]
            users.patch(org_id, user_id, {"schemas": [PATCH], "Operations": operations})
        return original(self, org_id, user_id, limit)

    monkeypatch.setattr(MembershipStore, "memberships_of_user", memberships_of_user)
    refused(contoso.delete(f"/Users/{user}", if_match='W/"1"'), 412)
    assert snapshot(contoso, f"/Users/{user}")["title"] == "changed meanwhile"
    assert [m["value"] for m in snapshot(contoso, group_path)["members"]] == [user]


def test_a_conditional_delete_that_holds_removes_the_memberships_with_the_user(contoso):
    """A user in up to 94 groups goes in one transaction with its memberships, so the version
    If-Match was checked on is the one everything commits against."""
    from provisioning import clients
    from tests.integration.test_dynamodb_calls import CallCounter

    user = contoso.create_user("gone@contoso.com")["id"]
    groups = [
        contoso.post("/Groups", {"displayName": f"Left {n}", "members": [{"value": user}]})
        for n in range(50)
    ]
    counter = CallCounter()
    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb", counter)
    try:
        with counter.measure("UsersFunction") as calls:
            assert contoso.delete(f"/Users/{user}", if_match='W/"1"').status == 204
    finally:
        events.unregister("before-call.dynamodb", counter)
    assert calls["TransactWriteItems"] == 1
    for group in groups:
        assert "members" not in snapshot(contoso, f"/Groups/{group.json()['id']}")


def test_a_user_in_many_groups_changed_during_a_conditional_delete_keeps_them_all(
    contoso, monkeypatch
):
    """Memberships beyond what the user's own delete transaction holds go first, each batch
    conditioned on the version If-Match was checked on: none goes once the user changed."""
    import uuid

    from provisioning import clients
    from provisioning.settings import get_settings
    from provisioning.store.memberships import MembershipStore
    from provisioning.store.resources import ResourceStore

    user = contoso.create_user("popular@contoso.com")["id"]
    table = get_settings().table_name
    memberships = MembershipStore(clients.dynamodb(), table)
    groups = [str(uuid.uuid4()) for _ in range(120)]
    for start in range(0, len(groups), 100):
        ResourceStore(clients.dynamodb(), table).commit(
            [memberships.add_item("contoso", g, user) for g in groups[start : start + 100]]
        )
    original = MembershipStore.memberships_of_user
    raced: list[bool] = []

    def memberships_of_user(self, org_id, user_id, limit):
        found = original(self, org_id, user_id, limit)
        if not raced:
            raced.append(True)
            users, _ = _services()
            operations = [{"op": "replace", "path": "title", "value": "changed meanwhile"}]
            users.patch(org_id, user_id, {"schemas": [PATCH], "Operations": operations})
        return found

    monkeypatch.setattr(MembershipStore, "memberships_of_user", memberships_of_user)
    refused(contoso.delete(f"/Users/{user}", if_match='W/"1"'), 412)
    monkeypatch.undo()
    assert len(memberships.memberships_of_user("contoso", user, 500)) == 120
    assert snapshot(contoso, f"/Users/{user}")["title"] == "changed meanwhile"

"""The admin API through the local stack (HTTP on moto): each route, and the org settings it
enforces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ScimClient
from tests.conftest import admin_call as call
from tests.http.test_groups import new_group

ORG = "acme"


@pytest.fixture
def acme(stack) -> ScimClient:
    """An organization created through the admin API, as its SCIM client sees it."""
    status, created = call(stack, "POST", "/orgs", {"id": ORG, "name": "Acme"})
    assert status == 201, created
    return ScimClient(stack, created["token"])


@pytest.fixture
def workspace(stack, acme) -> dict[str, Any]:
    status, created = call(stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Sales"})
    assert status == 201, created
    return created


@pytest.fixture
def user_id(acme) -> str:
    return acme.create_user("ada@acme.example")["id"]


def test_token_from_organization_creation_authenticates_scim_requests(acme):
    assert acme.get("/Users").status == 200


def test_organization_reads_back_with_default_settings(stack, acme):
    status, body = call(stack, "GET", f"/orgs/{ORG}")
    assert (status, body["id"], body["name"]) == (200, ORG, "Acme")
    assert body["settings"] == {
        "allowMembersToCreateWorkspaces": True,
        "folderRevocation": "automatic",
    }


def test_rotated_token_authenticates_scim_requests(stack, acme):
    status, body = call(stack, "POST", f"/orgs/{ORG}/token/rotate", {"graceHours": 1})
    assert (status, body["graceHours"]) == (200, 1)
    assert ScimClient(stack, body["token"]).get("/Users").status == 200


def test_rotation_without_a_grace_uses_the_stacks_token_grace_hours(stack, acme):
    """The template's TokenGraceHours (24 by default) reaches the admin function."""
    status, body = call(stack, "POST", f"/orgs/{ORG}/token/rotate")
    assert (status, body["graceHours"]) == (200, 24)
    assert acme.get("/Users").status == 200  # the previous token, within its grace


def test_rotation_of_an_unknown_organization_is_not_found(stack):
    assert call(stack, "POST", "/orgs/nobody/token/rotate")[0] == 404


def test_negative_grace_is_refused(stack, acme):
    status, body = call(stack, "POST", f"/orgs/{ORG}/token/rotate", {"graceHours": -1})
    assert (status, body["error"]) == (400, "invalidInput")


def test_settings_patch_changes_only_the_given_setting(stack, acme):
    status, body = call(stack, "PATCH", f"/orgs/{ORG}/settings", {"folderRevocation": "manual"})
    assert status == 200
    assert body == {"allowMembersToCreateWorkspaces": True, "folderRevocation": "manual"}
    assert call(stack, "GET", f"/orgs/{ORG}/settings")[1] == body


def test_settings_patch_with_an_unknown_policy_is_a_400(stack, acme):
    status, body = call(stack, "PATCH", f"/orgs/{ORG}/settings", {"folderRevocation": "never"})
    assert (status, body["error"]) == (400, "invalidInput")
    assert "folderRevocation" in body["message"]


def test_settings_of_an_unknown_organization_are_not_found(stack):
    assert call(stack, "GET", "/orgs/nobody/settings")[0] == 404


def test_admin_created_workspace_is_listed_with_its_home_folder(stack, workspace):
    assert workspace["createdBy"] is None
    assert call(stack, "GET", f"/orgs/{ORG}/workspaces")[1] == {"workspaces": [workspace]}
    status, body = call(stack, "GET", f"/orgs/{ORG}/workspaces/{workspace['id']}/folders")
    assert status == 200
    assert body["folders"] == [
        {
            "id": workspace["homeFolderId"],
            "name": "Home",
            "workspaceId": workspace["id"],
            "home": True,
        }
    ]


def test_workspace_in_an_unknown_organization_is_not_found(stack):
    assert call(stack, "POST", "/orgs/nobody/workspaces", {"name": "Sales"})[0] == 404


def test_folder_is_created_in_its_workspace(stack, workspace):
    path = f"/orgs/{ORG}/workspaces/{workspace['id']}/folders"
    status, folder = call(stack, "POST", path, {"name": "Accounts"})
    assert (status, folder["home"], folder["workspaceId"]) == (201, False, workspace["id"])
    assert folder in call(stack, "GET", path)[1]["folders"]


def test_folder_in_an_unknown_workspace_is_not_found(stack, acme):
    status, body = call(stack, "POST", f"/orgs/{ORG}/workspaces/nowhere/folders", {"name": "X"})
    assert (status, body["error"]) == (404, "notFound")


def test_member_creates_a_workspace_and_becomes_its_editor(stack, acme, user_id):
    status, created = call(
        stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Mine", "createdBy": user_id}
    )
    assert (status, created["createdBy"]) == (201, user_id)
    status, record = call(
        stack, "GET", f"/orgs/{ORG}/users/{user_id}/access/workspace/{created['id']}"
    )
    assert (status, record["level"]) == (200, "editor")
    assert [source["type"] for source in record["sources"]] == ["direct"]


def test_member_may_not_create_a_workspace_when_the_organization_forbids_it(stack, acme, user_id):
    call(stack, "PATCH", f"/orgs/{ORG}/settings", {"allowMembersToCreateWorkspaces": False})
    status, body = call(
        stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Mine", "createdBy": user_id}
    )
    assert (status, body["error"]) == (403, "forbidden")
    assert call(stack, "GET", f"/orgs/{ORG}/workspaces")[1] == {"workspaces": []}


def test_admin_creates_workspaces_whatever_the_member_setting(stack, acme):
    call(stack, "PATCH", f"/orgs/{ORG}/settings", {"allowMembersToCreateWorkspaces": False})
    assert call(stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Ops"})[0] == 201


def test_unknown_member_may_not_create_a_workspace(stack, acme):
    status, _ = call(
        stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Mine", "createdBy": "nobody"}
    )
    assert status == 404


def test_deactivated_member_may_not_create_a_workspace(stack, acme):
    inactive = acme.create_user("bob@acme.example", active=False)["id"]
    status, _ = call(
        stack, "POST", f"/orgs/{ORG}/workspaces", {"name": "Mine", "createdBy": inactive}
    )
    assert status == 403


def test_group_grant_is_set_listed_and_removed(stack, acme, workspace):
    group = new_group(acme, "Sales team")["id"]
    grant_path = f"/orgs/{ORG}/groups/{group}/grants/workspace/{workspace['id']}"
    status, grant = call(stack, "PUT", grant_path, {"level": "checker"})
    assert (status, grant["level"], grant["target"]["id"]) == (200, "checker", workspace["id"])
    assert call(stack, "GET", f"/orgs/{ORG}/groups/{group}/grants")[1] == {"grants": [grant]}
    holders_path = f"/orgs/{ORG}/workspaces/{workspace['id']}/access"
    assert call(stack, "GET", holders_path)[1]["groups"] == [grant]
    assert call(stack, "DELETE", grant_path)[0] == 204
    assert call(stack, "GET", f"/orgs/{ORG}/groups/{group}/grants")[1] == {"grants": []}
    assert call(stack, "GET", holders_path)[1]["groups"] == []


def test_group_grant_for_an_unknown_group_is_not_found(stack, workspace):
    path = f"/orgs/{ORG}/groups/nobody/grants/workspace/{workspace['id']}"
    assert call(stack, "PUT", path, {"level": "editor"})[0] == 404


def test_grant_with_an_unknown_level_is_a_400(stack, acme, workspace):
    group = new_group(acme, "Sales team")["id"]
    path = f"/orgs/{ORG}/groups/{group}/grants/workspace/{workspace['id']}"
    status, body = call(stack, "PUT", path, {"level": "owner"})
    assert (status, body["error"]) == (400, "invalidInput")


def test_grant_on_an_unknown_target_kind_is_a_400(stack, acme):
    group = new_group(acme, "Sales team")["id"]
    path = f"/orgs/{ORG}/groups/{group}/grants/project/p1"
    assert call(stack, "PUT", path, {"level": "editor"})[0] == 400


def test_direct_grant_shows_in_access_explain_and_who(stack, workspace, user_id):
    target = f"workspace/{workspace['id']}"
    status, record = call(
        stack, "PUT", f"/orgs/{ORG}/users/{user_id}/grants/{target}", {"level": "viewer"}
    )
    assert (status, record["level"]) == (200, "viewer")
    status, access = call(stack, "GET", f"/orgs/{ORG}/users/{user_id}/access")
    assert status == 200
    assert {(r["target"]["id"], r["level"]) for r in access["access"]} >= {
        (workspace["id"], "viewer")
    }
    status, who = call(stack, "GET", f"/orgs/{ORG}/workspaces/{workspace['id']}/access")
    assert (status, [r["userId"] for r in who["access"]]) == (200, [user_id])


def test_removed_direct_grant_explains_as_no_access(stack, workspace, user_id):
    path = f"/orgs/{ORG}/users/{user_id}/grants/workspace/{workspace['id']}"
    call(stack, "PUT", path, {"level": "editor"})
    assert call(stack, "DELETE", path)[0] == 204
    status, record = call(
        stack, "GET", f"/orgs/{ORG}/users/{user_id}/access/workspace/{workspace['id']}"
    )
    assert (status, record["level"], record["sources"]) == (200, None, [])


def test_who_has_access_to_an_unknown_folder_is_not_found(stack, acme):
    assert call(stack, "GET", f"/orgs/{ORG}/folders/nowhere/access")[0] == 404


def test_access_of_an_unknown_user_is_not_found(stack, acme):
    assert call(stack, "GET", f"/orgs/{ORG}/users/nobody/access")[0] == 404


def test_organizations_are_listed_in_id_order_a_page_at_a_time(stack):
    for org_id in ["globex", "acme", "initech"]:
        assert call(stack, "POST", "/orgs", {"id": org_id})[0] == 201
    status, first = call(stack, "GET", "/orgs?limit=2")
    assert status == 200
    assert [org["id"] for org in first["organizations"]] == ["acme", "globex"]
    assert first["organizations"][0]["settings"]["folderRevocation"] == "automatic"
    assert first["next"] == "globex"
    status, rest = call(stack, "GET", f"/orgs?limit=2&after={first['next']}")
    assert (status, [org["id"] for org in rest["organizations"]], rest["next"]) == (
        200,
        ["initech"],
        None,
    )


def test_organization_listing_refuses_a_bad_limit(stack):
    status, body = call(stack, "GET", "/orgs?limit=0")
    assert (status, body["error"]) == (400, "invalidInput")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orgs/ACME"),
        ("GET", f"/orgs/{'a' * 64}/settings"),
        ("GET", "/orgs/a/workspaces"),
        ("POST", "/orgs/acme_corp/token/rotate"),
        ("GET", "/orgs/acme.corp/users/u1/access"),
    ],
)
def test_a_malformed_organization_id_in_the_path_is_a_400(stack, method, path):
    status, body = call(stack, method, path)
    assert (status, body["error"]) == (400, "invalidInput")
    assert "organization ids are 2-63 characters" in body["message"]


def test_workspace_rename_changes_only_its_name(stack, workspace):
    path = f"/orgs/{ORG}/workspaces/{workspace['id']}"
    status, renamed = call(stack, "PATCH", path, {"name": "Sales EMEA"})
    assert (status, renamed) == (200, {**workspace, "name": "Sales EMEA"})
    assert call(stack, "GET", f"/orgs/{ORG}/workspaces")[1] == {"workspaces": [renamed]}


def test_folder_rename_changes_only_its_name(stack, workspace):
    status, folder = call(
        stack, "POST", f"/orgs/{ORG}/workspaces/{workspace['id']}/folders", {"name": "Deals"}
    )
    status, renamed = call(stack, "PATCH", f"/orgs/{ORG}/folders/{folder['id']}", {"name": "Won"})
    assert (status, renamed) == (200, {**folder, "name": "Won"})


def test_renaming_or_deleting_an_unknown_workspace_or_folder_is_not_found(stack, acme):
    for method, path, body in [
        ("PATCH", f"/orgs/{ORG}/workspaces/nowhere", {"name": "X"}),
        ("DELETE", f"/orgs/{ORG}/workspaces/nowhere", None),
        ("PATCH", f"/orgs/{ORG}/folders/nowhere", {"name": "X"}),
        ("DELETE", f"/orgs/{ORG}/folders/nowhere", None),
    ]:
        status, body = call(stack, method, path, body)
        assert (status, body["error"]) == (404, "notFound"), path


def test_a_home_folder_is_deleted_only_with_its_workspace(stack, workspace):
    status, body = call(stack, "DELETE", f"/orgs/{ORG}/folders/{workspace['homeFolderId']}")
    assert (status, body["error"]) == (409, "conflict")
    assert "delete the workspace instead" in body["message"]


def test_a_deleted_workspace_takes_its_folders_grants_and_access_with_it(stack, acme, workspace):
    """Through the whole chain: the delete's outbox event, the stream, the bus, the fan-out."""
    user = acme.create_user("ada@acme.example")["id"]
    group = new_group(acme, "Sales team", members=[user])["id"]
    folders = f"/orgs/{ORG}/workspaces/{workspace['id']}/folders"
    folder = call(stack, "POST", folders, {"name": "Deals"})[1]["id"]
    call(
        stack,
        "PUT",
        f"/orgs/{ORG}/groups/{group}/grants/workspace/{workspace['id']}",
        {"level": "editor"},
    )
    call(stack, "PUT", f"/orgs/{ORG}/groups/{group}/grants/folder/{folder}", {"level": "viewer"})
    call(stack, "PUT", f"/orgs/{ORG}/users/{user}/grants/folder/{folder}", {"level": "editor"})
    assert len(call(stack, "GET", f"/orgs/{ORG}/users/{user}/access")[1]["access"]) == 3
    assert call(stack, "DELETE", f"/orgs/{ORG}/workspaces/{workspace['id']}")[0] == 204
    assert call(stack, "GET", f"/orgs/{ORG}/workspaces")[1] == {"workspaces": []}
    assert call(stack, "GET", f"/orgs/{ORG}/users/{user}/access")[1]["access"] == []
    assert call(stack, "GET", f"/orgs/{ORG}/groups/{group}/grants")[1] == {"grants": []}
    left = [
        item
        for item in stack.world.client("dynamodb").scan(
            TableName=stack.world.tables["DirectoryTable"]
        )["Items"]
        if item.get("kind", {}).get("S") != "Outbox"
        and any(i in json.dumps(item) for i in (workspace["id"], workspace["homeFolderId"], folder))
    ]
    assert left == []

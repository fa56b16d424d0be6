"""`attributes` and `excludedAttributes` (RFC 7644 §3.9) on every response that returns a resource,
reads and writes alike, with the schema's `returned` rules (RFC 7643 §7): `always` (id, schemas)
whatever the parameters say, `never` (password) never, `default` unless left out. The attributes
stored apart — a user's `groups`, a group's `members` — follow the same rules down to their
sub-attributes, and are not even read when the response leaves them out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ENTERPRISE, USER_SCHEMA
from tests.http.test_preconditions import GROUP_SCHEMA, refused, snapshot

CORE_USER = USER_SCHEMA
CORE_GROUP = GROUP_SCHEMA
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """The related attributes the functions read (a user's groups, a group's members)."""
    from provisioning.scim.groups import GroupService
    from provisioning.scim.users import UserService

    made: list[str] = []
    groups_of, member_ids = UserService.groups, GroupService.member_ids

    def groups(self, org_id, user_id):
        made.append("groups")
        return groups_of(self, org_id, user_id)

    def members(self, org_id, group_id):
        made.append("members")
        return member_ids(self, org_id, group_id)

    monkeypatch.setattr(UserService, "groups", groups)
    monkeypatch.setattr(GroupService, "member_ids", members)
    return made


@pytest.fixture
def ada(contoso) -> dict[str, Any]:
    """A user with emails, a manager and a group (so `groups` has something to show)."""
    user = contoso.create_user(
        "ada@contoso.com",
        displayName="Ada",
        emails=[{"value": "ada@contoso.com", "type": "work", "primary": True}],
        **{ENTERPRISE: {"department": "R&D", "manager": {"value": "boss"}}},
    )
    group = contoso.post("/Groups", {"displayName": "Crew", "members": [{"value": user["id"]}]})
    assert group.status == 201
    return {"id": user["id"], "path": f"/Users/{user['id']}", "group": group.json()["id"]}


def each_response(contoso, ada, query: str) -> dict[str, dict[str, Any]]:
    """The user as POST, GET, PUT, PATCH, a list and POST /.search (RFC 7644 §3.4.3) return it
    under one projection (`query` is one parameter)."""
    path = ada["path"]
    responses = {
        "POST": contoso.post(f"/Users?{query}", {"userName": "bob@contoso.com", "title": "B"}),
        "GET": contoso.get(f"{path}?{query}"),
        "PUT": contoso.put(
            f"{path}?{query}",
            {
                "schemas": [USER_SCHEMA],
                "userName": "ada@contoso.com",
                "displayName": "Ada",
                "emails": [{"value": "ada@contoso.com", "type": "work", "primary": True}],
            },
        ),
        "PATCH": contoso.patch(
            f"{path}?{query}", [{"op": "replace", "path": "title", "value": "Engineer"}]
        ),
    }
    bodies = {}
    for method, response in responses.items():
        assert response.status in (200, 201), (method, response.body)
        bodies[method] = response.json()
    listed = contoso.get(f'/Users?filter=userName eq "ada@contoso.com"&{query}').json()
    bodies["list"] = listed["Resources"][0]
    name, _, values = query.partition("=")
    search = {
        "schemas": [SEARCH],
        "filter": 'userName eq "ada@contoso.com"',
        name: values.split(","),
    }
    found = contoso.post("/Users/.search", search)
    assert found.status == 200, found.body
    bodies["search"] = found.json()["Resources"][0]
    return bodies


def test_attributes_select_what_every_response_returns(contoso, ada, reads):
    """RFC 7644 §3.9: on any operation that returns a resource, POST, PUT and PATCH included;
    `id` and `schemas` are always returned (RFC 7643 §7)."""
    for method, body in each_response(contoso, ada, "attributes=userName").items():
        assert set(body) == {"schemas", "id", "userName"}, method
        assert body["schemas"] == [CORE_USER], method
    assert reads == []


def test_excluded_attributes_cannot_remove_what_is_always_returned(contoso, ada, reads):
    query = "excludedAttributes=id,schemas,userName,groups,meta"
    for method, body in each_response(contoso, ada, query).items():
        assert {"id", "schemas"} <= set(body), method
        assert not {"userName", "groups", "meta"} & set(body), method
        assert "displayName" in body or method == "POST", method
    assert reads == []


def test_sub_attributes_of_a_multi_valued_attribute(contoso, ada):
    body = contoso.get(f"{ada['path']}?attributes=emails.value").json()
    assert body == {
        "schemas": [CORE_USER],
        "id": ada["id"],
        "emails": [{"value": "ada@contoso.com"}],
    }


def test_extension_attributes_by_their_urn(contoso, ada):
    body = contoso.get(f"{ada['path']}?attributes={ENTERPRISE}:manager").json()
    assert body == {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": ada["id"],
        ENTERPRISE: {"manager": {"value": "boss"}},
    }
    without = contoso.get(f"{ada['path']}?excludedAttributes={ENTERPRISE}:department").json()
    assert without[ENTERPRISE] == {"manager": {"value": "boss"}}


def test_a_password_is_never_returned_even_when_asked_for(contoso):
    """RFC 7643 §4.1.1: password is returned "never" (and this service never stores it)."""
    created = contoso.post(
        "/Users?attributes=password,userName", {"userName": "p@x.com", "password": "s3cr3t!"}
    )
    assert created.status == 201
    assert set(created.json()) == {"schemas", "id", "userName"}
    path = f"/Users/{created.json()['id']}"
    assert "password" not in contoso.get(f"{path}?attributes=password").json()


# --- the related attributes ---------------------------------------------------------------------


def test_user_groups_follow_the_projection_down_to_sub_attributes(contoso, ada, reads):
    path = ada["path"]
    assert contoso.get(f"{path}?attributes=groups.value").json()["groups"] == [
        {"value": ada["group"]}
    ]
    groups = contoso.get(f"{path}?excludedAttributes=groups.display").json()["groups"]
    assert [set(g) for g in groups] == [{"value", "$ref", "type"}]
    whole = contoso.get(path).json()["groups"]
    assert [(g["value"], g["display"], g["type"]) for g in whole] == [
        (ada["group"], "Crew", "direct")
    ]
    assert reads == ["groups", "groups", "groups"]


@pytest.mark.parametrize(
    "query",
    [
        "attributes=userName",
        "attributes=meta.version",
        "excludedAttributes=groups",
        "excludedAttributes=GROUPS",
        f"excludedAttributes={USER_SCHEMA}:groups",
    ],
)
def test_user_groups_left_out_are_not_read(contoso, ada, reads, query):
    for response in (
        contoso.get(f"{ada['path']}?{query}"),
        contoso.patch(f"{ada['path']}?{query}", [{"op": "replace", "path": "title", "value": "T"}]),
        contoso.get(f"/Users?{query}"),
    ):
        assert response.status == 200
        assert "groups" not in str(response.json())
    assert reads == []


def test_group_members_follow_the_projection(contoso, ada, reads):
    path = f"/Groups/{ada['group']}"
    only = contoso.get(f"{path}?attributes=members").json()
    assert only == {"schemas": [CORE_GROUP], "id": ada["group"], "members": [{"value": ada["id"]}]}
    qualified = contoso.get(f"{path}?attributes={CORE_GROUP}:members.value").json()
    assert qualified["members"] == [{"value": ada["id"]}]
    assert reads == ["members", "members"]


@pytest.mark.parametrize(
    "query",
    [
        "attributes=displayName",
        "attributes=members.display",  # the one sub-attribute never kept: nothing to show
        "excludedAttributes=members",
        f"excludedAttributes={CORE_GROUP}:members",
    ],
)
def test_group_members_left_out_are_not_read(contoso, ada, reads, query):
    path = f"/Groups/{ada['group']}"
    newcomer = contoso.create_user("new@contoso.com")["id"]
    reads.clear()
    for response in (
        contoso.get(f"{path}?{query}"),
        contoso.patch(
            f"{path}?{query}", [{"op": "add", "path": "members", "value": [{"value": newcomer}]}]
        ),
        contoso.put(f"{path}?{query}", {"displayName": "Crew", "members": [{"value": ada["id"]}]}),
        contoso.post(
            f"/Groups?{query}", {"displayName": "Other", "members": [{"value": ada["id"]}]}
        ),
        contoso.get(f"/Groups?{query}"),
    ):
        assert response.status in (200, 201), response.body
        assert "members" not in str(response.json())
    assert reads == []
    assert [m["value"] for m in snapshot(contoso, path)["members"]] == [ada["id"]]


def test_write_responses_show_the_related_attribute_when_asked(contoso, ada):
    path = f"/Groups/{ada['group']}"
    newcomer = contoso.create_user("new@contoso.com")["id"]
    response = contoso.patch(
        f"{path}?attributes=members",
        [{"op": "add", "path": "members", "value": [{"value": newcomer}]}],
    )
    assert response.status == 200
    assert set(response.json()) == {"schemas", "id", "members"}
    assert sorted(m["value"] for m in response.json()["members"]) == sorted([ada["id"], newcomer])


def test_a_bad_projection_on_a_write_fails_before_anything_is_written(contoso, ada):
    """The parameters are checked first: a write never commits behind a 400."""
    before = snapshot(contoso, ada["path"])
    for query in ("attributes=urn:foo", "attributes=userName&excludedAttributes=title"):
        patch = contoso.patch(
            f"{ada['path']}?{query}", [{"op": "replace", "path": "title", "value": "no"}]
        )
        assert patch.status == 400, query
        refused(patch, 400, patch.json().get("scimType"))
        put = contoso.put(f"{ada['path']}?{query}", {"userName": "ada@contoso.com"})
        assert put.status == 400, query
    assert snapshot(contoso, ada["path"]) == before

"""What a write may change (RFC 7643 §7 mutability, RFC 7644 §3.5.1 PUT, §3.5.2 PATCH), at most one
primary value per attribute (RFC 7643 §2.4), and request attributes the schema does not define.

readOnly attributes a PUT or POST sends are ignored; a PATCH targeting one is 400 `mutability`.
Immutable attributes (a group member's value, $ref and type, RFC 7643 §8.7.1) cannot change once
assigned. Attributes and schemas the schemas do not define are ignored wherever they appear in a
request (the service's ScimPolicy.Unknown.ignore: Entra and Okta send their own). Every refused
write leaves the stored resource exactly as it was."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ENTERPRISE, USER_SCHEMA
from tests.http.test_preconditions import GROUP_SCHEMA, refused, snapshot

CUSTOM = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"


@pytest.fixture
def member(contoso) -> str:
    return str(contoso.create_user("member@contoso.com")["id"])


@pytest.fixture
def group(contoso, member) -> str:
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Crew", "members": [{"value": member}]}
    response = contoso.post("/Groups", body)
    assert response.status == 201, response.body
    return f"/Groups/{response.json()['id']}"


@pytest.fixture
def user(contoso, group) -> str:
    """A user with two emails (the first primary), a manager, and one group."""
    created = contoso.create_user(
        "ada@contoso.com",
        emails=[
            {"value": "ada@contoso.com", "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
        **{ENTERPRISE: {"manager": {"value": "boss-id"}}},
    )
    contoso.patch(group, [{"op": "add", "path": "members", "value": [{"value": created["id"]}]}])
    return f"/Users/{created['id']}"


def emails_of(body: dict[str, Any]) -> dict[str, bool]:
    return {e["value"]: bool(e.get("primary")) for e in body.get("emails", [])}


# --- PUT: readOnly ignored ----------------------------------------------------------------------


def test_put_ignores_read_only_attributes(contoso, user, group):
    """RFC 7644 §3.5.1: readOnly values in a PUT are ignored (id, meta, groups, the enterprise
    manager's displayName), the stored ones kept; the rest replaces the resource."""
    before = snapshot(contoso, user)
    body = {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": "chosen-by-the-client",
        "meta": {"created": "2001-01-01T00:00:00Z", "version": 'W/"99"', "resourceType": "Group"},
        "userName": "ada@contoso.com",
        "title": "Engineer",
        "groups": [{"value": "some-other-group", "display": "Not mine"}],
        ENTERPRISE: {"manager": {"value": "boss-id", "displayName": "The Boss"}},
    }
    response = contoso.put(user, body)
    assert response.status == 200, response.body
    after = snapshot(contoso, user)
    assert after == response.json()
    assert after["id"] == before["id"]
    assert after["meta"]["created"] == before["meta"]["created"]
    assert after["meta"]["resourceType"] == "User"
    assert after["meta"]["version"] == 'W/"2"'
    assert after["groups"] == before["groups"]
    assert after[ENTERPRISE]["manager"] == {"value": "boss-id"}
    assert after["title"] == "Engineer"
    assert "emails" not in after  # left out of the PUT: replaced by nothing


def test_post_ignores_read_only_attributes(contoso, group):
    """RFC 7644 §3.3: the same on creation; a user's groups change only through the group."""
    response = contoso.post(
        "/Users",
        {
            "userName": "new@contoso.com",
            "groups": [{"value": group.rsplit("/", 1)[1]}],
            ENTERPRISE: {"manager": {"value": "m", "displayName": "Shown"}},
        },
    )
    assert response.status == 201, response.body
    created = response.json()
    assert "groups" not in created
    assert created[ENTERPRISE]["manager"] == {"value": "m"}
    assert "groups" not in snapshot(contoso, f"/Users/{created['id']}")


# --- PUT on a group: members' immutable type and $ref -----------------------------------------


def test_put_keeping_a_member_under_another_type_is_mutability(contoso, group, member):
    """RFC 7643 §8.7.1: members.type and members.$ref are immutable; an entry for a current
    member (matched on its value) that names it as a Group changes them."""
    before = snapshot(contoso, group)
    for entry in (
        {"value": member, "type": "Group"},
        {"value": member, "$ref": f"https://example.com/scim/v2/Groups/{member}"},
    ):
        body = {"schemas": [GROUP_SCHEMA], "displayName": "Renamed", "members": [entry]}
        refused(contoso.put(group, body), 400, "mutability")
    assert snapshot(contoso, group) == before


def test_put_with_a_new_member_that_is_not_a_user_is_invalid_value(contoso, group, member):
    before = snapshot(contoso, group)
    other = contoso.create_user("other@contoso.com")["id"]
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "Renamed",
        "members": [{"value": member}, {"value": other, "type": "Group"}],
    }
    refused(contoso.put(group, body), 400, "invalidValue")
    assert snapshot(contoso, group) == before


def test_put_with_members_as_users_is_accepted(contoso, group, member):
    """type User and a $ref to the user are what the members are: no change of them."""
    other = contoso.create_user("other@contoso.com")["id"]
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": "Crew",
        "members": [
            {"value": member, "type": "User", "display": "Member"},
            {"value": other, "type": "User", "$ref": f"https://x.example/scim/v2/Users/{other}"},
        ],
    }
    response = contoso.put(group, body)
    assert response.status == 200, response.body
    assert sorted(m["value"] for m in snapshot(contoso, group)["members"]) == sorted(
        [member, other]
    )


def test_post_with_a_member_that_is_not_a_user_is_invalid_value(contoso, member):
    body = {"displayName": "Nested", "members": [{"value": member, "type": "Group"}]}
    refused(contoso.post("/Groups", body), 400, "invalidValue")
    assert contoso.get('/Groups?filter=displayName eq "Nested"').json()["totalResults"] == 0


# --- PATCH: readOnly and immutable ---------------------------------------------------------------


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "other"},
        {"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"},
        {"op": "replace", "path": "meta", "value": {"version": 'W/"9"'}},
        {"op": "add", "path": "groups", "value": [{"value": "g"}]},
        {"op": "remove", "path": "groups"},
        {"op": "replace", "path": 'groups[value eq "g"].display', "value": "x"},
        {"op": "replace", "path": f"{ENTERPRISE}:manager.displayName", "value": "The Boss"},
        {"op": "replace", "value": {"id": "other"}},
        {"op": "add", "value": {"groups": [{"value": "g"}]}},
    ],
)
def test_patch_of_a_read_only_attribute_is_mutability(contoso, user, operation):
    """RFC 7644 §3.5.2: a client MUST NOT modify readOnly attributes; 400 mutability, and the
    whole PATCH (its valid first operation too) is not applied."""
    before = snapshot(contoso, user)
    response = contoso.patch(
        user, [{"op": "replace", "path": "title", "value": "Applied?"}, operation]
    )
    refused(response, 400, "mutability")
    assert snapshot(contoso, user) == before


def test_patch_value_repeating_the_current_id_is_no_change(contoso, user):
    """Okta sends the resource's own id in a path-less replace: not a modification."""
    before = snapshot(contoso, user)
    response = contoso.patch(user, [{"op": "replace", "value": {"id": before["id"]}}])
    assert response.status == 200
    assert snapshot(contoso, user) == before


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'members[value eq "{member}"].value', "value": "x"},
        {"op": "replace", "path": "members.value", "value": "x"},
        {"op": "add", "path": "members.type", "value": "Group"},
        {"op": "remove", "path": 'members[value eq "{member}"].value'},
        {"op": "replace", "path": 'members[value eq "{member}"]', "value": {"value": "x"}},
        {"op": "add", "path": "members", "value": [{"value": "{member}", "type": "Group"}]},
        {
            "op": "replace",
            "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members.$ref",
            "value": "https://example.com/Users/x",
        },
    ],
)
def test_patch_changing_a_member_is_mutability(contoso, group, member, operation):
    """RFC 7643 §8.7.1: a member's value, $ref and type are immutable once assigned (RFC 7644
    §3.5.2); members are added and removed whole."""
    written = json.loads(json.dumps(operation).replace("{member}", member))
    before = snapshot(contoso, group)
    response = contoso.patch(
        group, [{"op": "replace", "path": "displayName", "value": "Applied?"}, written]
    )
    refused(response, 400, "mutability")
    assert snapshot(contoso, group) == before


def test_patch_adding_a_member_that_is_not_a_user_is_invalid_value(contoso, group, member):
    before = snapshot(contoso, group)
    other = contoso.create_user("other@contoso.com")["id"]
    operation = {"op": "add", "path": "members", "value": [{"value": other, "type": "Group"}]}
    refused(contoso.patch(group, [operation]), 400, "invalidValue")
    assert snapshot(contoso, group) == before


def test_patch_of_a_member_display_changes_nothing(contoso, group, member):
    """A member's display is not kept (only ids are), so writing it writes nothing."""
    before = snapshot(contoso, group)
    path = f'members[value eq "{member}"].display'
    response = contoso.patch(group, [{"op": "replace", "path": path, "value": "Shown"}])
    assert response.status == 200
    assert snapshot(contoso, group) == before


def test_entra_and_okta_member_forms_still_work(contoso, group, member):
    """Adding members with display (Okta) and removing by filter or by value (Entra, Okta)."""
    other = contoso.create_user("other@contoso.com")["id"]
    ops = [{"op": "Add", "path": "members", "value": [{"value": other, "display": "Other"}]}]
    assert contoso.patch(group, ops).status == 200
    remove = [{"op": "Remove", "path": f'members[value eq "{member}"]'}]
    assert contoso.patch(group, remove).status == 200
    assert [m["value"] for m in snapshot(contoso, group)["members"]] == [other]
    gone = [{"op": "remove", "path": "members", "value": [{"value": other}]}]
    assert contoso.patch(group, gone).status == 200
    assert "members" not in snapshot(contoso, group)


# --- primary (RFC 7643 §2.4, RFC 7644 §3.5.2) ----------------------------------------------------


def test_patch_marking_a_value_primary_unmarks_the_others(contoso, user):
    """RFC 7644 §3.5.2: the server SHALL set primary to false on the other values."""
    path = 'emails[value eq "ada@home.example"].primary'
    response = contoso.patch(user, [{"op": "replace", "path": path, "value": True}])
    assert response.status == 200, response.body
    expected = {"ada@contoso.com": False, "ada@home.example": True}
    assert emails_of(response.json()) == expected
    assert emails_of(snapshot(contoso, user)) == expected


def test_patch_adding_a_primary_value_unmarks_the_others(contoso, user):
    entry = {"value": "ada@new.example", "type": "other", "primary": True}
    response = contoso.patch(user, [{"op": "add", "path": "emails", "value": [entry]}])
    assert response.status == 200, response.body
    assert emails_of(snapshot(contoso, user)) == {
        "ada@contoso.com": False,
        "ada@home.example": False,
        "ada@new.example": True,
    }


def test_patch_leaving_two_primary_values_is_invalid_value(contoso, user):
    """RFC 7643 §2.4: primary true appears at most once in an attribute."""
    before = snapshot(contoso, user)
    entries = [
        {"value": "one@new.example", "primary": True},
        {"value": "two@new.example", "primary": True},
    ]
    refused(
        contoso.patch(user, [{"op": "add", "path": "emails", "value": entries}]),
        400,
        "invalidValue",
    )
    assert snapshot(contoso, user) == before


TWO_PRIMARIES = [
    {"value": "+1 555 0100", "type": "work", "primary": True},
    {"value": "+1 555 0101", "type": "mobile", "primary": True},
]


def test_post_with_two_primary_values_is_invalid_value(contoso):
    body = {"userName": "two@contoso.com", "phoneNumbers": TWO_PRIMARIES}
    refused(contoso.post("/Users", body), 400, "invalidValue")
    assert contoso.get('/Users?filter=userName eq "two@contoso.com"').json()["totalResults"] == 0


def test_put_with_two_primary_values_is_invalid_value(contoso, user):
    before = snapshot(contoso, user)
    body = {"userName": "ada@contoso.com", "phoneNumbers": TWO_PRIMARIES}
    refused(contoso.put(user, body), 400, "invalidValue")
    assert snapshot(contoso, user) == before


# --- attributes the schemas do not define: ignored -----------------------------------------------


def test_unknown_attributes_and_extensions_in_a_post_are_not_kept(contoso):
    """Okta sends custom profile attributes, in the core schema or an extension of its own:
    they are dropped, and so is the extension's URN from `schemas` (RFC 7643 §3)."""
    response = contoso.post(
        "/Users",
        {
            "schemas": [USER_SCHEMA, CUSTOM],
            "userName": "custom@contoso.com",
            "costCenter": "42",
            "name": {"givenName": "Cus", "nickname2": "x"},
            CUSTOM: {"badge": "7"},
        },
    )
    assert response.status == 201, response.body
    stored = snapshot(contoso, f"/Users/{response.json()['id']}")
    assert stored == response.json() | {"meta": stored["meta"]}
    assert stored["schemas"] == [USER_SCHEMA]
    assert stored["name"] == {"givenName": "Cus"}
    assert "costCenter" not in stored
    assert CUSTOM not in stored


def test_unknown_attributes_in_a_put_are_not_kept(contoso, user):
    body = {"schemas": [USER_SCHEMA, CUSTOM], "userName": "ada@contoso.com", "costCenter": "42"}
    body[CUSTOM] = {"badge": "7"}
    response = contoso.put(user, body)
    assert response.status == 200, response.body
    stored = snapshot(contoso, user)
    assert stored["schemas"] == [USER_SCHEMA]
    assert "costCenter" not in stored
    assert CUSTOM not in stored


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "costCenter", "value": "42"},
        {"op": "replace", "path": "name.nickname2", "value": "x"},
        {"op": "replace", "path": 'emails[type eq "work"].label', "value": "x"},
        {"op": "replace", "path": 'badges[type eq "x"].value', "value": "x"},
        {"op": "remove", "path": "costCenter"},
        {"op": "add", "path": f"{ENTERPRISE}:costCentre", "value": "42"},
        {"op": "add", "path": f"{CUSTOM}:badge", "value": "7"},
        {"op": "add", "path": CUSTOM, "value": {"badge": "7"}},
        {"op": "remove", "path": CUSTOM},
        {"op": "add", "path": "schemas", "value": [CUSTOM]},
        {"op": "replace", "value": {"costCenter": "42", f"{CUSTOM}:badge": "7", CUSTOM: {}}},
    ],
)
def test_patch_of_an_unknown_attribute_changes_nothing(contoso, user, operation):
    """A path or value key naming an attribute or extension the schema does not define is
    ignored like the same attribute in a POST or PUT: 200, nothing written, version kept."""
    before = snapshot(contoso, user)
    response = contoso.patch(user, [operation])
    assert response.status == 200, response.body
    assert response.json()["meta"]["version"] == 'W/"1"'
    assert snapshot(contoso, user) == before


def test_patch_applies_its_known_operations_beside_unknown_ones(contoso, user):
    response = contoso.patch(
        user,
        [
            {"op": "add", "path": "costCenter", "value": "42"},
            {"op": "replace", "path": "title", "value": "Engineer"},
        ],
    )
    assert response.status == 200
    after = snapshot(contoso, user)
    assert (after["title"], after["meta"]["version"]) == ("Engineer", 'W/"2"')
    assert "costCenter" not in after


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "costCenter", "value": "42"},
        {"op": "replace", "path": "members.nickname", "value": "x"},
        {"op": "replace", "value": {"costCenter": "42"}},
    ],
)
def test_patch_of_an_unknown_group_attribute_changes_nothing(contoso, group, operation):
    before = snapshot(contoso, group)
    response = contoso.patch(group, [operation])
    assert response.status == 200, response.body
    assert snapshot(contoso, group) == before


def test_a_filter_on_an_undefined_sub_attribute_in_a_patch_path_is_invalid_filter(contoso, user):
    """A filter cannot be evaluated on an attribute that does not exist: the path is refused
    (RFC 7644 §3.12 invalidFilter), not silently ignored."""
    before = snapshot(contoso, user)
    path = 'emails[label eq "x"].value'
    refused(
        contoso.patch(user, [{"op": "replace", "path": path, "value": "x"}]), 400, "invalidFilter"
    )
    assert snapshot(contoso, user) == before

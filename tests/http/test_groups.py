"""Groups as Entra ID and Okta push them: create, find, members in batches, rename, delete."""

from __future__ import annotations

import pytest

from tests.conftest import ERROR_SCHEMA

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def new_group(client, name, members=(), **attributes):
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [{"value": m} for m in members],
        **attributes,
    }
    response = client.post("/Groups", body)
    assert response.status == 201, response.body
    return response.json()


def member_ids(client, group_id):
    body = client.get(f"/Groups/{group_id}").json()
    return sorted(m["value"] for m in body.get("members", []))


@pytest.fixture
def people(contoso):
    return [contoso.create_user(f"person{n}@contoso.com")["id"] for n in range(5)]


def test_entra_creates_then_finds_a_group_by_display_name_without_members(contoso, people):
    created = new_group(contoso, "Engineering", externalId="8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159")
    assert created["displayName"] == "Engineering"
    assert created["meta"]["resourceType"] == "Group"
    query = '/Groups?excludedAttributes=members&filter=displayName eq "engineering"'
    found = contoso.get(query).json()
    assert [g["id"] for g in found["Resources"]] == [created["id"]]
    assert "members" not in found["Resources"][0]


def test_create_with_members(contoso, people):
    created = new_group(contoso, "Sales", members=people[:2])
    assert sorted(m["value"] for m in created["members"]) == sorted(people[:2])
    assert member_ids(contoso, created["id"]) == sorted(people[:2])


def test_display_name_is_unique_case_insensitively(contoso):
    new_group(contoso, "Finance")
    response = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "FINANCE"})
    assert response.status == 409
    assert response.json()["scimType"] == "uniqueness"


def test_entra_adds_several_members_in_one_operation(contoso, people):
    group = new_group(contoso, "Ops")
    response = contoso.patch(
        f"/Groups/{group['id']}",
        [{"op": "Add", "path": "members", "value": [{"value": p} for p in people[:3]]}],
    )
    assert response.status == 200, response.body
    assert member_ids(contoso, group["id"]) == sorted(people[:3])
    assert response.json()["meta"]["version"] == 'W/"2"'


def test_entra_removes_a_member_by_filter(contoso, people):
    group = new_group(contoso, "Ops", members=people[:3])
    path = f'members[value eq "{people[1]}"]'
    response = contoso.patch(f"/Groups/{group['id']}", [{"op": "Remove", "path": path}])
    assert response.status == 200
    assert member_ids(contoso, group["id"]) == sorted([people[0], people[2]])


def test_okta_removes_members_given_as_a_value(contoso, people):
    group = new_group(contoso, "Ops", members=people[:3])
    contoso.patch(
        f"/Groups/{group['id']}",
        [
            {
                "op": "remove",
                "path": "members",
                "value": [{"value": people[0]}, {"value": people[2]}],
            }
        ],
    )
    assert member_ids(contoso, group["id"]) == [people[1]]


def test_okta_replace_applies_only_the_difference(contoso, people):
    group = new_group(contoso, "Ops", members=people[:3])
    replacement = [{"value": p, "display": "x"} for p in people[1:4]]
    response = contoso.patch(
        f"/Groups/{group['id']}", [{"op": "replace", "path": "members", "value": replacement}]
    )
    assert response.status == 200
    assert member_ids(contoso, group["id"]) == sorted(people[1:4])
    assert response.json()["meta"]["version"] == 'W/"2"'


def test_okta_push_with_unchanged_members_and_name_writes_nothing(contoso, people):
    group = new_group(contoso, "Ops", members=people[:2])
    operations = [
        {"op": "replace", "value": {"id": group["id"], "displayName": "Ops"}},
        {"op": "replace", "path": "members", "value": [{"value": p} for p in people[:2]]},
    ]
    response = contoso.patch(f"/Groups/{group['id']}", operations)
    assert response.status == 200
    assert response.json()["meta"]["version"] == 'W/"1"'


def test_rename_with_and_without_a_path(contoso):
    group = new_group(contoso, "Old Name")
    path = f"/Groups/{group['id']}"
    renamed = contoso.patch(path, [{"op": "Replace", "path": "displayName", "value": "New"}])
    assert renamed.json()["displayName"] == "New"
    again = contoso.patch(path, [{"op": "replace", "value": {"displayName": "Newer"}}])
    assert again.json()["displayName"] == "Newer"
    assert contoso.post("/Groups", {"displayName": "Old Name"}).status == 201


def test_adding_a_member_twice_or_removing_a_non_member_changes_nothing(contoso, people):
    group = new_group(contoso, "Ops", members=people[:1])
    path = f"/Groups/{group['id']}"
    again = contoso.patch(path, [{"op": "add", "path": "members", "value": [{"value": people[0]}]}])
    assert again.status == 200
    absent = contoso.patch(path, [{"op": "remove", "path": f'members[value eq "{people[4]}"]'}])
    assert absent.status == 200
    assert absent.json()["meta"]["version"] == 'W/"1"'
    assert member_ids(contoso, group["id"]) == [people[0]]


def test_an_unknown_member_fails_the_whole_request(contoso, fabrikam, people):
    outsider = fabrikam.create_user("outsider@fabrikam.com")["id"]
    group = new_group(contoso, "Ops")
    response = contoso.patch(
        f"/Groups/{group['id']}",
        [
            {"op": "replace", "path": "displayName", "value": "Renamed"},
            {"op": "add", "path": "members", "value": [{"value": people[0]}, {"value": outsider}]},
        ],
    )
    assert response.status == 400
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert response.json()["scimType"] == "invalidValue"
    after = contoso.get(f"/Groups/{group['id']}").json()
    assert after["displayName"] == "Ops"
    assert "members" not in after
    bad_create = contoso.post("/Groups", {"displayName": "X", "members": [{"value": "nope"}]})
    assert bad_create.status == 400
    assert contoso.get('/Groups?filter=displayName eq "X"').json()["totalResults"] == 0


def test_a_member_id_the_service_never_issued_is_refused_on_post_put_and_patch(contoso, people):
    """User ids are assigned by this service (RFC 7643 §3.1), so an IdP only ever learns them
    from our responses: an id never issued can never arrive later. A member must be a user of the
    organization now (RFC 7643 §4.2: `value` is the `id` of a SCIM resource), else 400
    invalidValue (RFC 7644 §3.12) and nothing is written."""
    never_issued = "2819c223-7f76-453a-919d-413861904646"
    group = new_group(contoso, "Ops", members=people[:1])
    path = f"/Groups/{group['id']}"
    members = [{"value": people[1]}, {"value": never_issued}]
    attempts = [
        contoso.post(
            "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "New", "members": members}
        ),
        contoso.put(
            path, {"schemas": [GROUP_SCHEMA], "displayName": "Renamed", "members": members}
        ),
        contoso.patch(path, [{"op": "add", "path": "members", "value": members}]),
        contoso.patch(path, [{"op": "replace", "path": "members", "value": members}]),
        contoso.patch(path, [{"op": "add", "value": {"members": members}}]),
    ]
    for response in attempts:
        assert response.status == 400, response.body
        assert response.json()["schemas"] == [ERROR_SCHEMA]
        assert response.json()["scimType"] == "invalidValue"
        assert never_issued in response.json()["detail"]
    after = contoso.get(path).json()
    assert (after["displayName"], after["meta"]["version"]) == ("Ops", group["meta"]["version"])
    assert member_ids(contoso, group["id"]) == [people[0]]
    assert contoso.get('/Groups?filter=displayName eq "New"').json()["totalResults"] == 0


def test_a_thousand_member_changes_in_one_patch(contoso, stack):
    from tests.http.seeding import seed_users

    users = seed_users("contoso", 1000)
    group = new_group(contoso, "Everyone")
    response = contoso.patch(
        f"/Groups/{group['id']}",
        [{"op": "add", "path": "members", "value": [{"value": u} for u in users]}],
    )
    assert response.status == 200
    assert len(response.json()["members"]) == 1000
    half = users[::2]
    response = contoso.patch(
        f"/Groups/{group['id']}",
        [{"op": "remove", "path": "members", "value": [{"value": u} for u in half]}],
    )
    assert member_ids(contoso, group["id"]) == sorted(set(users) - set(half))


def test_users_show_their_direct_groups(contoso, people):
    a = new_group(contoso, "Alpha", members=people[:2])
    b = new_group(contoso, "Beta", members=people[1:2])
    groups = contoso.get(f"/Users/{people[1]}").json()["groups"]
    assert sorted((g["value"], g["display"], g["type"]) for g in groups) == sorted(
        [(a["id"], "Alpha", "direct"), (b["id"], "Beta", "direct")]
    )
    assert "groups" not in contoso.get(f"/Users/{people[4]}").json()


def test_deleting_a_user_removes_its_memberships(contoso, people):
    group = new_group(contoso, "Ops", members=people[:3])
    assert contoso.delete(f"/Users/{people[1]}").status == 204
    assert member_ids(contoso, group["id"]) == sorted([people[0], people[2]])


def test_deleting_a_group_hides_it_from_its_members_at_once(contoso, people):
    group = new_group(contoso, "Temp", members=people[:2])
    assert contoso.delete(f"/Groups/{group['id']}").status == 204
    assert contoso.get(f"/Groups/{group['id']}").status == 404
    assert "groups" not in contoso.get(f"/Users/{people[0]}").json()
    assert contoso.post("/Groups", {"displayName": "Temp"}).status == 201


def test_stale_if_match_on_a_group_is_412(contoso, people):
    group = new_group(contoso, "Ops")
    path = f"/Groups/{group['id']}"
    contoso.patch(path, [{"op": "add", "path": "members", "value": [{"value": people[0]}]}])
    stale = contoso.patch(
        path, [{"op": "add", "path": "members", "value": [{"value": people[1]}]}], if_match='W/"1"'
    )
    assert stale.status == 412
    assert member_ids(contoso, group["id"]) == [people[0]]


def test_put_replaces_name_and_members(contoso, people):
    group = new_group(contoso, "Ops", members=people[:2])
    response = contoso.put(
        f"/Groups/{group['id']}",
        {"schemas": [GROUP_SCHEMA], "displayName": "Ops2", "members": [{"value": people[3]}]},
    )
    assert response.status == 200
    assert response.json()["displayName"] == "Ops2"
    assert member_ids(contoso, group["id"]) == [people[3]]


def test_groups_are_per_organization(contoso, fabrikam):
    mine = new_group(contoso, "Shared Name")
    new_group(fabrikam, "Shared Name")
    assert fabrikam.get(f"/Groups/{mine['id']}").status == 404
    assert (
        fabrikam.patch(
            f"/Groups/{mine['id']}", [{"op": "replace", "path": "displayName", "value": "x"}]
        ).status
        == 404
    )

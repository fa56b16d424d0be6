"""Edge cases found in review: each once gave a 500, a partial write or a wrong member list."""

from __future__ import annotations

from tests.conftest import ERROR_SCHEMA
from tests.http.test_groups import member_ids, new_group

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_a_bad_attributes_parameter_fails_before_anything_is_written(contoso):
    response = contoso.post("/Users?attributes=urn:foo", {"userName": "once@contoso.com"})
    assert response.status == 400
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert contoso.post("/Users", {"userName": "once@contoso.com"}).status == 201


def test_over_long_keys_are_invalid_values_not_server_errors(contoso):
    response = contoso.post("/Users", {"userName": "z" * 1500})
    assert (response.status, response.json()["scimType"]) == (400, "invalidValue")
    assert contoso.get("/Users/" + "x" * 1500).status == 404
    listed = contoso.get(f'/Users?filter=userName eq "{"y" * 1500}"').json()
    assert listed["totalResults"] == 0


def test_deeply_nested_json_is_invalid_syntax(contoso):
    body = b"[" * 200_000 + b"]" * 200_000
    response = contoso.post("/Users", body)
    assert (response.status, response.json()["scimType"]) == (400, "invalidSyntax")


def test_members_path_qualified_by_the_schema_urn_is_a_member_operation(contoso, fabrikam):
    outsider = fabrikam.create_user("outsider@fabrikam.com")["id"]
    user = contoso.create_user("insider@contoso.com")["id"]
    group = new_group(contoso, "Qualified")
    path = f"/Groups/{group['id']}"
    refused = contoso.patch(
        path, [{"op": "add", "path": f"{GROUP_URN}:members", "value": [{"value": outsider}]}]
    )
    assert refused.status == 400
    added = contoso.patch(
        path, [{"op": "add", "path": f"{GROUP_URN}:members", "value": [{"value": user}]}]
    )
    assert added.status == 200
    assert member_ids(contoso, group["id"]) == [user]
    lean = contoso.get(f"{path}?excludedAttributes={GROUP_URN}:members").json()
    assert "members" not in lean


def test_member_only_patch_that_changes_nothing_succeeds(contoso):
    group = new_group(contoso, "Quiet")
    response = contoso.patch(
        f"/Groups/{group['id']}", [{"op": "remove", "path": "members", "value": []}]
    )
    assert response.status == 200
    assert response.json()["meta"]["version"] == 'W/"1"'


def test_a_membership_the_lagging_index_missed_is_purged_after_the_user(
    contoso, stack, monkeypatch
):
    from provisioning import clients
    from provisioning.scim.users import INLINE_MEMBERSHIP_REMOVALS
    from provisioning.settings import get_settings
    from provisioning.store.memberships import MembershipStore

    user = contoso.create_user("late@contoso.com")["id"]
    group = new_group(contoso, "Member of", members=[user])
    original = MembershipStore.memberships_of_user

    def lagging(self, org_id, user_id, limit):
        # The DELETE's own read of GSI1 does not see the membership yet.
        if limit == INLINE_MEMBERSHIP_REMOVALS:
            return []
        return original(self, org_id, user_id, limit)

    monkeypatch.setattr(MembershipStore, "memberships_of_user", lagging)
    assert contoso.delete(f"/Users/{user}").status == 204
    store = MembershipStore(clients.dynamodb(), get_settings().table_name)
    assert list(store.members("contoso", group["id"])) == []
    assert stack.failed_batches == []

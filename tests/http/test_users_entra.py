"""Microsoft Entra ID's user provisioning, request for request as Entra sends it."""

import json

from tests.conftest import ENTERPRISE, ERROR_SCHEMA, SCIM_JSON, load_event


def entra_user():
    return json.loads(load_event("users_create_entra.json")["body"])


def test_test_connection_query_for_a_random_user_name_is_an_empty_list(contoso):
    event = load_event("users_test_connection_entra.json")
    response = contoso.get(f"/Users?{event['rawQueryString']}")
    assert response.status == 200
    assert response.headers["content-type"].startswith(SCIM_JSON)
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_create_returns_the_user_with_server_meta_and_etag(contoso):
    response = contoso.post("/Users", entra_user())
    assert response.status == 201
    user = response.json()
    assert user["userName"] == entra_user()["userName"]
    assert user[ENTERPRISE]["department"] == "Finance"
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert response.headers["location"] == user["meta"]["location"]
    assert response.headers["etag"] == user["meta"]["version"] == 'W/"1"'
    assert user["meta"]["created"] == user["meta"]["lastModified"]


def test_client_values_for_server_attributes_are_ignored(contoso):
    payload = entra_user() | {"id": "chosen-by-client", "meta": {"created": "2001-01-01T00:00:00Z"}}
    user = contoso.post("/Users", payload).json()
    assert user["id"] != "chosen-by-client"
    assert not user["meta"]["created"].startswith("2001")


def test_query_before_create_finds_the_user_case_insensitively(contoso):
    created = contoso.post("/Users", entra_user()).json()
    name = created["userName"].upper()
    response = contoso.get(f'/Users?filter=userName eq "{name}"')
    body = response.json()
    assert body["totalResults"] == 1
    assert body["Resources"][0]["id"] == created["id"]


def test_query_by_external_id(contoso):
    created = contoso.post("/Users", entra_user()).json()
    body = contoso.get(f'/Users?filter=externalId eq "{created["externalId"]}"').json()
    assert [r["id"] for r in body["Resources"]] == [created["id"]]


def test_duplicate_user_name_in_another_case_is_a_uniqueness_conflict(contoso):
    contoso.post("/Users", entra_user())
    duplicate = entra_user() | {"userName": entra_user()["userName"].lower(), "externalId": "other"}
    response = contoso.post("/Users", duplicate)
    assert response.status == 409
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert response.json()["scimType"] == "uniqueness"
    assert response.json()["status"] == "409"


def test_duplicate_external_id_is_a_uniqueness_conflict(contoso):
    contoso.post("/Users", entra_user())
    response = contoso.post("/Users", entra_user() | {"userName": "someone.else@contoso.com"})
    assert response.status == 409
    assert response.json()["scimType"] == "uniqueness"


def test_entra_patch_with_capitalized_ops_filtered_paths_string_booleans_and_bare_manager(contoso):
    user = contoso.post("/Users", entra_user()).json()
    operations = json.loads(load_event("users_patch_entra.json")["body"])["Operations"]
    response = contoso.patch(f"/Users/{user['id']}", operations)
    assert response.status == 200, response.body
    patched = response.json()
    assert patched["emails"] == [
        {"primary": True, "type": "work", "value": "updatedEmail@contoso.com"}
    ]
    assert patched["name"]["familyName"] == "updatedFamilyName"
    assert patched["phoneNumbers"] == [{"type": "mobile", "value": "+1 555 0100"}]
    assert patched["addresses"] == [{"type": "work", "streetAddress": "1 Microsoft Way"}]
    assert patched[ENTERPRISE]["manager"] == {"value": "2819c223-7f76-453a-919d-413861904646"}
    assert patched["active"] is False
    assert response.headers["etag"] == 'W/"2"'


def test_patch_without_path_and_several_operations(contoso):
    user = contoso.post("/Users", entra_user()).json()
    response = contoso.patch(
        f"/Users/{user['id']}",
        [
            {
                "op": "Replace",
                "value": {"displayName": "New Name", "title": "Engineer", "active": "True"},
            },
            {"op": "Remove", "path": f"{ENTERPRISE}:department"},
            {"op": "Add", "path": "name.givenName", "value": "Given"},
        ],
    )
    patched = response.json()
    assert (patched["displayName"], patched["title"], patched["active"]) == (
        "New Name",
        "Engineer",
        True,
    )
    assert "department" not in patched[ENTERPRISE]
    assert patched["name"]["givenName"] == "Given"


def test_patch_that_changes_nothing_keeps_the_version(contoso):
    user = contoso.post("/Users", entra_user()).json()
    response = contoso.patch(
        f"/Users/{user['id']}", [{"op": "Replace", "path": "active", "value": "True"}]
    )
    assert response.status == 200
    assert response.json()["meta"]["version"] == 'W/"1"'


def test_deactivated_user_stays_readable(contoso):
    user = contoso.post("/Users", entra_user()).json()
    contoso.patch(f"/Users/{user['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    response = contoso.get(f"/Users/{user['id']}")
    assert response.status == 200
    assert response.json()["active"] is False


def test_delete_removes_the_user_and_frees_its_user_name(contoso):
    user = contoso.post("/Users", entra_user()).json()
    assert contoso.delete(f"/Users/{user['id']}").status == 204
    gone = contoso.get(f"/Users/{user['id']}")
    assert gone.status == 404
    assert gone.json()["schemas"] == [ERROR_SCHEMA]
    assert contoso.delete(f"/Users/{user['id']}").status == 404
    assert contoso.post("/Users", entra_user()).status == 201


def test_rename_moves_the_user_name_guard(contoso):
    user = contoso.post("/Users", entra_user()).json()
    contoso.patch(
        f"/Users/{user['id']}",
        [{"op": "Replace", "path": "userName", "value": "renamed@contoso.com"}],
    )
    other = entra_user() | {"externalId": "another"}
    assert contoso.post("/Users", other).status == 201  # the old name is free again
    clash = contoso.post("/Users", {"userName": "RENAMED@contoso.com"})
    assert clash.status == 409


def test_addresses_on_on_premises_domains_are_accepted(contoso):
    user = contoso.create_user(
        "j.doe@corp.local", emails=[{"type": "work", "value": "j.doe@corp.local"}]
    )
    assert user["emails"][0]["value"] == "j.doe@corp.local"


def test_attribute_names_are_case_insensitive(contoso):
    user = contoso.create_user("case@contoso.com", DisplayName="Mixed Case")
    assert user["displayName"] == "Mixed Case"
    path = f"/Users/{user['id']}"
    patched = contoso.patch(
        path, [{"op": "replace", "path": "DISPLAYNAME", "value": "Upper"}]
    ).json()
    assert patched["displayName"] == "Upper"
    found = contoso.get(
        '/Users?filter=USERNAME eq "CASE@contoso.com"&attributes=DisplayName'
    ).json()
    assert found["Resources"][0]["displayName"] == "Upper"

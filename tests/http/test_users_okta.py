"""Okta's user provisioning: filtered GET then POST, GET then PUT, deactivation by PATCH, paging."""

import json

from tests.conftest import load_event

OKTA_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "test.user@okta.local",
    "name": {"givenName": "Test", "familyName": "User"},
    "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
    "displayName": "Test User",
    "locale": "en-US",
    "externalId": "00ujl29u0le5T6Aj10h7",
    "groups": [],
    "password": "1mz050nq",
    "active": True,
}


def test_okta_test_connection_pages_one_user(okta):
    okta.create_user("a@okta.local")
    okta.create_user("b@okta.local")
    event = load_event("users_list_okta.json")
    body = okta.get(f"/Users?{event['rawQueryString']}").json()
    assert body["totalResults"] == 2
    assert body["itemsPerPage"] == 1
    assert len(body["Resources"]) == 1


def test_okta_create_ignores_groups_and_never_returns_or_stores_the_password(okta, stack):
    assert (
        okta.get('/Users?filter=userName eq "test.user@okta.local"&startIndex=1&count=100').json()[
            "totalResults"
        ]
        == 0
    )
    response = okta.post("/Users", OKTA_USER)
    assert response.status == 201
    created = response.json()
    assert "password" not in created
    assert "1mz050nq" not in okta.get(f"/Users/{created['id']}").body.decode()
    assert okta.post("/Users", OKTA_USER).status == 409


def test_okta_get_then_put_replaces_the_user(okta):
    created = okta.post("/Users", OKTA_USER).json()
    current = okta.get(f"/Users/{created['id']}").json()
    replacement = {k: v for k, v in current.items() if k != "meta"} | {
        "name": {"givenName": "Changed", "familyName": "User"},
        "password": "another",
    }
    replacement.pop("title", None)
    response = okta.put(f"/Users/{created['id']}", replacement)
    assert response.status == 200, response.body
    replaced = response.json()
    assert replaced["name"] == {"givenName": "Changed", "familyName": "User"}
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["version"] == 'W/"2"'
    assert replaced["id"] == created["id"]


def test_put_drops_attributes_left_out(okta):
    created = okta.post("/Users", OKTA_USER).json()
    response = okta.put(
        f"/Users/{created['id']}",
        {"schemas": OKTA_USER["schemas"], "userName": OKTA_USER["userName"]},
    )
    replaced = response.json()
    assert "emails" not in replaced
    assert "displayName" not in replaced


def test_okta_deactivation_patch(okta):
    created = okta.post("/Users", OKTA_USER).json()
    operations = json.loads(load_event("users_deactivate_okta.json")["body"])["Operations"]
    response = okta.patch(f"/Users/{created['id']}", operations)
    assert response.status == 200
    assert response.json()["active"] is False
    assert okta.get(f"/Users/{created['id']}").json()["active"] is False


def test_pages_of_100_neither_skip_nor_repeat(okta):
    ids = {okta.create_user(f"user{n:03d}@okta.local")["id"] for n in range(230)}
    seen: list[str] = []
    start = 1
    while True:
        body = okta.get(f"/Users?startIndex={start}&count=100").json()
        assert body["totalResults"] == 230
        seen += [r["id"] for r in body["Resources"]]
        if body["itemsPerPage"] < 100:
            break
        start += 100
    assert len(seen) == len(set(seen)) == 230
    assert set(seen) == ids

"""SCIM protocol behaviour over HTTP: errors, projection, filters, ETags, discovery."""

import pytest

from tests.conftest import ERROR_SCHEMA, SCIM_JSON, USER_SCHEMA

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def error_of(response):
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(response.status)
    assert response.headers["content-type"].startswith(SCIM_JSON)
    return body


def test_invalid_json_is_invalid_syntax(contoso):
    response = contoso.post("/Users", b"{not json")
    assert response.status == 400
    assert error_of(response)["scimType"] == "invalidSyntax"


def test_missing_user_name_is_invalid_value_and_writes_nothing(contoso):
    response = contoso.post("/Users", {"schemas": [USER_SCHEMA], "displayName": "x"})
    assert response.status == 400
    assert error_of(response)["scimType"] == "invalidValue"
    assert contoso.get("/Users").json()["totalResults"] == 0


def test_body_over_the_size_limit_is_413(contoso):
    response = contoso.post("/Users", {"userName": "x", "displayName": "y" * 1_100_000})
    assert response.status == 413
    error_of(response)


def test_invalid_filter(contoso):
    response = contoso.get('/Users?filter=userName eq "x" and')
    assert response.status == 400
    assert error_of(response)["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    ("operations", "scim_type"),
    [
        ([{"op": "frobnicate", "path": "active", "value": True}], "invalidValue"),
        ([{"op": "replace", "path": "emails[type eq", "value": "x"}], "invalidPath"),
        ([{"op": "replace", "path": "id", "value": "new"}], "mutability"),
        ([{"op": "remove", "path": "userName"}], "mutability"),
        (
            [
                {
                    "op": "replace",
                    "path": 'emails[type eq "work" or type eq "home"].value',
                    "value": "x",
                }
            ],
            "noTarget",
        ),
        ([{"op": "replace", "path": "active", "value": "perhaps"}], "invalidValue"),
    ],
)
def test_bad_patches_get_their_scim_type_and_change_nothing(contoso, operations, scim_type):
    user = contoso.create_user("patch.me@contoso.com")
    response = contoso.patch(
        f"/Users/{user['id']}", [{"op": "replace", "path": "title", "value": "T"}, *operations]
    )
    assert response.status == 400
    assert error_of(response)["scimType"] == scim_type
    after = contoso.get(f"/Users/{user['id']}").json()
    assert "title" not in after
    assert after["meta"]["version"] == 'W/"1"'


def test_unknown_resource_is_404(contoso):
    response = contoso.get("/Users/does-not-exist")
    assert response.status == 404
    error_of(response)


def test_unsupported_method_is_405(contoso):
    response = contoso.request("DELETE", "/Users")
    assert response.status == 405
    error_of(response)


def test_stale_if_match_is_412_and_current_if_match_succeeds(contoso):
    user = contoso.create_user("etag@contoso.com")
    path = f"/Users/{user['id']}"
    contoso.patch(path, [{"op": "replace", "path": "title", "value": "one"}])
    stale = contoso.patch(
        path, [{"op": "replace", "path": "title", "value": "two"}], if_match='W/"1"'
    )
    assert stale.status == 412
    error_of(stale)
    assert contoso.put(path, {"userName": "etag@contoso.com"}, if_match='W/"1"').status == 412
    assert contoso.delete(path, if_match='W/"1"').status == 412
    current = contoso.patch(
        path, [{"op": "replace", "path": "title", "value": "two"}], if_match='W/"2"'
    )
    assert current.status == 200
    assert current.json()["title"] == "two"


def test_if_none_match_on_the_current_version_is_304(contoso):
    user = contoso.create_user("cache@contoso.com")
    response = contoso.get(f"/Users/{user['id']}", if_none_match='W/"1"')
    assert response.status == 304
    assert contoso.get(f"/Users/{user['id']}", if_none_match='W/"0"').status == 200


def test_attributes_and_excluded_attributes(contoso):
    user = contoso.create_user(
        "proj@contoso.com", displayName="P", emails=[{"value": "p@x.com", "type": "work"}]
    )
    only = contoso.get(f"/Users/{user['id']}?attributes=emails.value").json()
    assert only == {"schemas": [USER_SCHEMA], "id": user["id"], "emails": [{"value": "p@x.com"}]}
    without = contoso.get(f"/Users/{user['id']}?excludedAttributes=emails,meta").json()
    assert "emails" not in without
    assert "meta" not in without
    assert without["displayName"] == "P"
    listed = contoso.get("/Users?attributes=userName").json()["Resources"]
    assert listed == [{"schemas": [USER_SCHEMA], "id": user["id"], "userName": "proj@contoso.com"}]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('userName eq "alice@x.com"', {"alice"}),
        ('userName ne "alice@x.com"', {"bob", "carol"}),
        ('userName co "rol"', {"carol"}),
        ('userName sw "CA"', {"carol"}),
        ('userName ew "x.com"', {"alice", "bob"}),
        ("title pr", {"alice"}),
        ('userName gt "bob@x.com"', {"carol"}),
        ('userName ge "bob@x.com"', {"bob", "carol"}),
        ('userName lt "bob@x.com"', {"alice"}),
        ('userName le "bob@x.com"', {"alice", "bob"}),
        ('title pr and userName sw "a"', {"alice"}),
        ('title pr or userName sw "b"', {"alice", "bob"}),
        ('not (userName sw "a")', {"bob", "carol"}),
        ('(userName sw "a" or userName sw "b") and not (title pr)', {"bob"}),
        ('emails[type eq "work"]', {"alice", "carol"}),
        ('emails[type eq "work" and value co "carol"]', {"carol"}),
        ("active eq false", {"carol"}),
        ('externalId eq "ext-bob"', {"bob"}),
    ],
)
def test_filters(contoso, query, expected):
    ids = {
        contoso.create_user(
            "alice@x.com", title="CEO", emails=[{"type": "work", "value": "a@w.com"}]
        )["id"]: "alice",
        contoso.create_user(
            "bob@x.com", externalId="ext-bob", emails=[{"type": "home", "value": "b@h.com"}]
        )["id"]: "bob",
        contoso.create_user(
            "carol@y.org", active=False, emails=[{"type": "work", "value": "carol@w.com"}]
        )["id"]: "carol",
    }
    body = contoso.get(f"/Users?filter={query}").json()
    assert {ids[r["id"]] for r in body["Resources"]} == expected
    assert body["totalResults"] == len(expected)


def test_count_zero_returns_only_the_total(contoso):
    contoso.create_user("one@x.com")
    body = contoso.get("/Users?count=0").json()
    assert body == {"schemas": [LIST_RESPONSE], "totalResults": 1}


def test_service_provider_config_states_what_is_supported(contoso):
    config = contoso.get("/ServiceProviderConfig").json()
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["etag"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_resource_types_and_schemas_describe_users_with_the_enterprise_extension(contoso):
    types = contoso.get("/ResourceTypes").json()
    user_type = next(r for r in types["Resources"] if r["id"] == "User")
    assert user_type["endpoint"] == "/Users"
    assert user_type["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    assert contoso.get("/ResourceTypes/User").json()["name"] == "User"
    schemas = contoso.get("/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert {USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"} <= ids
    user_schema = contoso.get(f"/Schemas/{USER_SCHEMA}").json()
    user_name = next(a for a in user_schema["attributes"] if a["name"] == "userName")
    assert (user_name["uniqueness"], user_name["caseExact"]) == ("server", False)
    assert contoso.get("/Schemas/urn:example:nope").status == 404


def test_discovery_describes_groups(contoso):
    group_type = contoso.get("/ResourceTypes/Group").json()
    assert (group_type["endpoint"], group_type["schema"]) == (
        "/Groups",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    )
    schema = contoso.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json()
    assert {a["name"] for a in schema["attributes"]} >= {"displayName", "members"}

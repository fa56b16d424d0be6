"""Discovery through the local stack (RFC 7644 §4): what /ServiceProviderConfig, /Schemas and
/ResourceTypes answer over HTTP, and that /Schemas describes the models the users and groups
functions validate with."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from provisioning.scim.resources import (
    MAX_RESULTS,
    SERVED_KINDS,
)
from tests.conftest import ERROR_SCHEMA, SCIM_JSON, ScimClient
from tests.unit.test_discovery_models import PAGINATION, SCHEMAS_OF_KINDS, _assert_described

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE = "https://"  # locations are absolute URLs on the API's domain
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def ok(response: Any) -> dict[str, Any]:
    assert response.status == 200, response.body
    assert response.headers["content-type"].startswith(SCIM_JSON)
    body: dict[str, Any] = response.json()
    return body


def scim_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    return body


def test_service_provider_config_states_what_the_service_supports(contoso: ScimClient) -> None:
    config = ok(contoso.get("/ServiceProviderConfig"))
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
    assert config["filter"] == {"supported": True, "maxResults": MAX_RESULTS}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": True}
    assert config["etag"] == {"supported": True}
    assert config["pagination"] == PAGINATION
    [scheme] = config["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken"
    assert scheme["specUri"] == "https://www.rfc-editor.org/info/rfc6750"
    assert scheme["primary"] is True
    assert scheme["name"]
    assert scheme["description"]
    assert config["meta"]["resourceType"] == "ServiceProviderConfig"
    assert config["meta"]["location"].endswith("/scim/v2/ServiceProviderConfig")


def test_schemas_is_a_list_response_of_every_schema(contoso: ScimClient) -> None:
    body = ok(contoso.get("/Schemas"))
    assert body["schemas"] == [LIST_RESPONSE]
    ids = [schema["id"] for schema in body["Resources"]]
    assert body["totalResults"] == body["itemsPerPage"] == len(ids)
    assert set(ids) >= {
        USER_SCHEMA,
        ENTERPRISE,
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig",
    }
    for schema in body["Resources"]:
        assert schema["meta"]["resourceType"] == "Schema"
        assert schema["meta"]["location"].startswith(BASE)
        assert schema["meta"]["location"].endswith(f"/Schemas/{schema['id']}")


def test_each_listed_schema_is_served_on_its_own(contoso: ScimClient) -> None:
    listed = ok(contoso.get("/Schemas"))["Resources"]
    for schema in listed:
        assert ok(contoso.get(f"/Schemas/{schema['id']}")) == schema


@pytest.mark.parametrize(("urn", "model", "skip"), SCHEMAS_OF_KINDS)
def test_served_schema_describes_the_validating_model(
    contoso: ScimClient, urn: str, model: Any, skip: set[str]
) -> None:
    served = ok(contoso.get(f"/Schemas/{urn}"))
    fields = [field for field in model.model_fields if field not in skip]
    _assert_described(model, fields, served["attributes"], urn)


def test_resource_types_are_users_and_groups(contoso: ScimClient) -> None:
    body = ok(contoso.get("/ResourceTypes"))
    assert body["schemas"] == [LIST_RESPONSE]
    by_id = {r["id"]: r for r in body["Resources"]}
    assert set(by_id) == {kind.name for kind in SERVED_KINDS}
    for kind in SERVED_KINDS:
        assert by_id[kind.name]["endpoint"] == kind.endpoint
        assert by_id[kind.name]["schema"] == str(kind.model.__schema__)
        assert by_id[kind.name]["meta"]["location"].endswith(f"/ResourceTypes/{kind.name}")
        assert ok(contoso.get(f"/ResourceTypes/{kind.name}")) == by_id[kind.name]
    assert by_id["User"]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]


def test_ids_are_matched_whole_and_without_case(contoso: ScimClient) -> None:
    """RFC 7643 §8.7.2: Schema and ResourceType ids are caseExact false."""
    assert ok(contoso.get("/ResourceTypes/group"))["id"] == "Group"
    assert ok(contoso.get(f"/Schemas/{USER_SCHEMA.upper()}"))["id"] == USER_SCHEMA


@pytest.mark.parametrize(
    "path",
    [
        "/Schemas/urn:example:nope",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0",
        f"/Schemas/{USER_SCHEMA}x",
        "/ResourceTypes/Users",
        "/ResourceTypes/Device",
    ],
)
def test_unknown_ids_are_a_scim_404(contoso: ScimClient, path: str) -> None:
    error = scim_error(contoso.get(path), 404)
    assert "scimType" not in error


@pytest.mark.parametrize(
    "path", ["/ServiceProviderConfig", "/Schemas", f"/Schemas/{USER_SCHEMA}", "/ResourceTypes"]
)
def test_a_filter_on_discovery_is_a_403(contoso: ScimClient, path: str) -> None:
    """RFC 7644 §4: discovery is not filtered, and a filter SHOULD get 403 Forbidden."""
    query = quote('name eq "User"', safe="")
    scim_error(contoso.get(f"{path}?filter={query}"), 403)


def test_paging_parameters_are_ignored(contoso: ScimClient) -> None:
    """RFC 7644 §4: sorting and pagination SHALL be ignored on discovery endpoints."""
    everything = ok(contoso.get("/Schemas"))
    assert ok(contoso.get("/Schemas?count=1&startIndex=2&sortBy=id")) == everything


def test_the_group_schema_promises_exactly_the_member_attributes_a_group_carries(
    contoso: ScimClient,
) -> None:
    """Members are returned as their id alone (the 6 MB response budget): the served schema
    must not promise `$ref`, `type` or `display`, which a client sends but is never given."""
    user = contoso.create_user("member@contoso.com")
    sent = {"value": user["id"], "display": "Member", "type": "User"}
    group = contoso.post("/Groups", {"displayName": "Team", "members": [sent]}).json()
    carried = {name for member in group["members"] for name in member}
    schema = contoso.get(f"/Schemas/{quote(GROUP_URN)}").json()
    members = next(a for a in schema["attributes"] if a["name"] == "members")
    promised = {sub["name"] for sub in members["subAttributes"] if sub["returned"] != "never"}
    assert promised == carried == {"value"}

"""Discovery (RFC 7644 §4) says exactly what the service supports and describes exactly the models
the server validates with: nothing the server accepts is missing from /Schemas, nothing there
is unknown to the server, and every characteristic (type, mutability, returned, caseExact,
required, uniqueness) is the model's own."""

from __future__ import annotations

from inspect import isclass
from typing import Any

import pytest
from pydantic import BaseModel
from scim2_models import (
    CaseExact,
    ForbiddenException,
    Mutability,
    NotFoundException,
    Required,
    Returned,
    Uniqueness,
)
from scim2_models.resources.resource import Extension

from provisioning.api.discovery import (
    get_resource_type,
    get_schema,
    list_resource_types,
    list_schemas,
    service_provider_config,
)
from provisioning.http.app import Request
from provisioning.scim.resources import (
    CURSOR_TIMEOUT_SECONDS,
    DEFAULT_PAGE_SIZE,
    MAX_RESULTS,
    PROVIDER,
    SERVED_KINDS,
    SERVICE_PROVIDER_CONFIG,
    ResourceKind,
)

BASE = "https://scim.example.com/scim/v2"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# RFC 7643 §3.1: common attributes belong to no schema; `schemas` is the resource's envelope.
COMMON = {"schemas", "id", "external_id", "meta"}

# RFC 9865 §4, as the configuration must state it (also checked over HTTP).
PAGINATION = {
    "cursor": True,
    "index": True,
    "defaultPaginationMethod": "index",
    "defaultPageSize": DEFAULT_PAGE_SIZE,
    "maxPageSize": MAX_RESULTS,
    "cursorTimeout": CURSOR_TIMEOUT_SECONDS,
}


def request(path: str, params: dict[str, str] | None = None, **path_params: str) -> Request:
    return Request(
        method="GET",
        path=path,
        org_id="contoso",
        base_url=BASE,
        params=params or {},
        path_params=path_params,
    )


def served_schema(urn: str) -> dict[str, Any]:
    body: dict[str, Any] = get_schema(request(f"/Schemas/{urn}", id=urn)).body
    return body


# --- ServiceProviderConfig (RFC 7643 §5, RFC 9865 §4) -----------------------------------------


def test_service_provider_config_states_exactly_what_is_supported() -> None:
    body = service_provider_config(request("/ServiceProviderConfig")).body
    assert body == {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": (
                    "A bearer token (RFC 6750) issued per organization, sent as "
                    "'Authorization: Bearer <token>'."
                ),
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "pagination": PAGINATION,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{BASE}/ServiceProviderConfig",
        },
    }


def test_page_limits_agree_with_each_other() -> None:
    """RFC 9865 §4 `maxPageSize` and RFC 7643 §5 `filter.maxResults` bound the same page."""
    assert SERVICE_PROVIDER_CONFIG.pagination is not None
    assert SERVICE_PROVIDER_CONFIG.filter is not None
    assert (
        SERVICE_PROVIDER_CONFIG.pagination.max_page_size
        == SERVICE_PROVIDER_CONFIG.filter.max_results
    )
    assert 0 < DEFAULT_PAGE_SIZE <= MAX_RESULTS


def test_every_configuration_attribute_is_declared_by_the_served_schema() -> None:
    body = service_provider_config(request("/ServiceProviderConfig")).body
    schema = served_schema(SPC_SCHEMA)
    declared = {a["name"]: a for a in schema["attributes"]}
    for name, value in body.items():
        if name in {"schemas", "meta"}:
            continue
        assert name in declared, name
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            if isinstance(entry, dict):
                subs = {s["name"] for s in declared[name]["subAttributes"]}
                assert set(entry) <= subs, (name, set(entry) - subs)


def test_the_service_provider_config_schema_describes_rfc_9865_pagination() -> None:
    schema = served_schema(SPC_SCHEMA)
    pagination = next(a for a in schema["attributes"] if a["name"] == "pagination")
    assert (pagination["type"], pagination["multiValued"]) == ("complex", False)
    types = {s["name"]: s["type"] for s in pagination["subAttributes"]}
    assert types == {
        "cursor": "boolean",
        "index": "boolean",
        "defaultPaginationMethod": "string",
        "defaultPageSize": "integer",
        "maxPageSize": "integer",
        "cursorTimeout": "integer",
    }
    required = {s["name"] for s in pagination["subAttributes"] if s["required"]}
    assert required == {"cursor", "index"}
    method = next(s for s in pagination["subAttributes"] if s["name"] == "defaultPaginationMethod")
    assert set(method["canonicalValues"]) == {"cursor", "index"}


# --- resource types and the models behind them (RFC 7643 §6) ----------------------------------


@pytest.mark.parametrize("kind", SERVED_KINDS, ids=lambda kind: kind.name)
def test_each_resource_type_is_the_model_the_server_validates_with(kind: ResourceKind) -> None:
    assert PROVIDER.model_for(kind.name) is kind.model
    served = get_resource_type(request(f"/ResourceTypes/{kind.name}", id=kind.name)).body
    assert served["id"] == served["name"] == kind.name
    assert served["endpoint"] == kind.endpoint
    assert served["schema"] == str(kind.model.__schema__)
    extensions = kind.model.get_extension_models()
    assert {e["schema"] for e in served.get("schemaExtensions", [])} == set(extensions)
    assert all(e["required"] is False for e in served.get("schemaExtensions", []))


def test_resource_types_are_exactly_the_served_kinds() -> None:
    body = list_resource_types(request("/ResourceTypes")).body
    assert [r["id"] for r in body["Resources"]] == [kind.name for kind in SERVED_KINDS]
    assert body["totalResults"] == len(SERVED_KINDS)


def _schemas_of(kind: ResourceKind) -> list[tuple[str, type[BaseModel], set[str]]]:
    """(schema URN, model declaring its attributes, fields that are not attributes)."""
    core_skip = COMMON | {
        name
        for name in kind.model.model_fields
        if isclass(root := kind.model.get_field_root_type(name)) and issubclass(root, Extension)
    }
    found: list[tuple[str, type[BaseModel], set[str]]] = [
        (str(kind.model.__schema__), kind.model, core_skip)
    ]
    for urn, extension in kind.model.get_extension_models().items():
        found.append((urn, extension, {"schemas"}))
    return found


SCHEMAS_OF_KINDS = [
    pytest.param(urn, model, skip, id=urn.rsplit(":", 2)[-2] + ":" + urn.rsplit(":", 1)[-1])
    for kind in SERVED_KINDS
    for urn, model, skip in _schemas_of(kind)
]


def _scim_name(model: type[BaseModel], field: str) -> str:
    alias = model.model_fields[field].serialization_alias
    assert alias is not None, field
    return alias


def _expected(model: type[BaseModel], field: str) -> dict[str, Any]:
    """An attribute's characteristics as the validating model declares them (RFC 7643 §2.2)."""
    get = model.get_field_annotation  # type: ignore[attr-defined]
    expected: dict[str, Any] = {
        "multiValued": model.get_field_multiplicity(field),  # type: ignore[attr-defined]
        "required": get(field, Required) == Required.true,
        "caseExact": get(field, CaseExact) == CaseExact.true,
        "mutability": get(field, Mutability).value,
        "returned": get(field, Returned).value,
    }
    if not _complex(model, field):
        expected["uniqueness"] = get(field, Uniqueness).value
    return expected


def _complex(model: type[BaseModel], field: str) -> type[BaseModel] | None:
    root = model.get_field_root_type(field)  # type: ignore[attr-defined]
    return root if isclass(root) and issubclass(root, BaseModel) else None


def _assert_described(
    model: type[BaseModel], fields: list[str], served: list[dict[str, Any]], where: str
) -> None:
    by_name = {a["name"]: a for a in served}
    names = [_scim_name(model, field) for field in fields]
    assert sorted(by_name) == sorted(names), where
    for field, name in zip(fields, names, strict=True):
        attribute = by_name[name]
        shown = {key: attribute.get(key) for key in _expected(model, field)}
        assert shown == _expected(model, field), f"{where}.{name}"
        sub_model = _complex(model, field)
        assert (attribute["type"] == "complex") == (sub_model is not None), f"{where}.{name}"
        if sub_model is not None:
            _assert_described(
                sub_model, list(sub_model.model_fields), attribute["subAttributes"], name
            )


@pytest.mark.parametrize(("urn", "model", "skip"), SCHEMAS_OF_KINDS)
def test_schema_describes_every_attribute_the_model_accepts_and_no_other(
    urn: str, model: type[BaseModel], skip: set[str]
) -> None:
    fields = [field for field in model.model_fields if field not in skip]
    _assert_described(model, fields, served_schema(urn)["attributes"], urn)


def test_every_schema_a_resource_type_names_is_served() -> None:
    served = {s["id"] for s in list_schemas(request("/Schemas")).body["Resources"]}
    for kind in SERVED_KINDS:
        assert {urn for urn, _, _ in _schemas_of(kind)} <= served


def test_schemas_list_the_resource_and_service_provider_schemas() -> None:
    body = list_schemas(request("/Schemas")).body
    assert [s["id"] for s in body["Resources"]] == [
        USER_SCHEMA,
        ENTERPRISE,
        GROUP_SCHEMA,
        SPC_SCHEMA,
        "urn:ietf:params:scim:schemas:core:2.0:ResourceType",
        "urn:ietf:params:scim:schemas:core:2.0:Schema",
    ]
    assert body["totalResults"] == len(body["Resources"])
    for schema in body["Resources"]:
        assert schema["meta"] == {
            "resourceType": "Schema",
            "location": f"{BASE}/Schemas/{schema['id']}",
        }


def _attribute(urn: str, path: str) -> dict[str, Any]:
    attributes = served_schema(urn)["attributes"]
    head, _, sub = path.partition(".")
    found = next(a for a in attributes if a["name"] == head)
    return next(s for s in found["subAttributes"] if s["name"] == sub) if sub else found


@pytest.mark.parametrize(
    ("urn", "path", "facts"),
    [
        # RFC 7643 §4.1.1
        (USER_SCHEMA, "userName", {"required": True, "uniqueness": "server", "caseExact": False}),
        (USER_SCHEMA, "password", {"mutability": "writeOnly", "returned": "never"}),
        (USER_SCHEMA, "active", {"type": "boolean", "mutability": "readWrite"}),
        # RFC 7643 §4.1.2: groups are read-only, changed through the Group resource
        (USER_SCHEMA, "groups", {"mutability": "readOnly", "multiValued": True}),
        (USER_SCHEMA, "groups.value", {"mutability": "readOnly", "caseExact": True}),
        (USER_SCHEMA, "emails", {"type": "complex", "multiValued": True}),
        (USER_SCHEMA, "emails.value", {"caseExact": False}),
        # RFC 7643 §4.3; `manager.$ref` optional: Entra sends only the manager's id
        (ENTERPRISE, "employeeNumber", {"type": "string", "mutability": "readWrite"}),
        (ENTERPRISE, "manager.displayName", {"mutability": "readOnly"}),
        (ENTERPRISE, "manager.$ref", {"required": False, "type": "reference"}),
        (ENTERPRISE, "manager.value", {"caseExact": True}),
        # RFC 7643 §4.2, §8.7.1
        (GROUP_SCHEMA, "displayName", {"type": "string", "caseExact": False}),
        (GROUP_SCHEMA, "members.value", {"mutability": "immutable", "caseExact": True}),
    ],
)
def test_schemas_state_the_rfc_characteristics(urn: str, path: str, facts: dict[str, Any]) -> None:
    attribute = _attribute(urn, path)
    assert {key: attribute[key] for key in facts} == facts


@pytest.mark.parametrize("common", ["id", "externalId", "meta"])
def test_common_attributes_are_in_no_resource_schema(common: str) -> None:
    """RFC 7643 §3.1: id, externalId and meta belong to every resource, not to a schema."""
    for urn in (USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE):
        assert common not in {a["name"] for a in served_schema(urn)["attributes"]}


# --- looking one up ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [USER_SCHEMA, USER_SCHEMA.upper(), ENTERPRISE.lower()])
def test_a_schema_is_found_by_its_whole_id_in_any_case(key: str) -> None:
    """RFC 7643 §8.7.2: a Schema's `id` is caseExact false."""
    assert served_schema(key)["id"].casefold() == key.casefold()


@pytest.mark.parametrize("key", ["User", "user", "USER"])
def test_a_resource_type_is_found_by_its_whole_id_in_any_case(key: str) -> None:
    """RFC 7643 §8.7.2: a ResourceType's `id` is caseExact false."""
    assert get_resource_type(request(f"/ResourceTypes/{key}", id=key)).body["id"] == "User"


@pytest.mark.parametrize(
    "key", ["urn:example:nope", "urn:ietf:params:scim:schemas:core:2.0", "User", f"{USER_SCHEMA} "]
)
def test_an_unknown_schema_is_not_found(key: str) -> None:
    with pytest.raises(NotFoundException) as caught:
        get_schema(request(f"/Schemas/{key}", id=key))
    assert caught.value.status == 404


@pytest.mark.parametrize("key", ["Users", "Use", USER_SCHEMA, "Device"])
def test_an_unknown_resource_type_is_not_found(key: str) -> None:
    with pytest.raises(NotFoundException) as caught:
        get_resource_type(request(f"/ResourceTypes/{key}", id=key))
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("endpoint", "path_params"),
    [
        (service_provider_config, {}),
        (list_schemas, {}),
        (get_schema, {"id": USER_SCHEMA}),
        (list_resource_types, {}),
        (get_resource_type, {"id": "User"}),
    ],
)
def test_a_filter_on_discovery_is_forbidden(endpoint: Any, path_params: dict[str, str]) -> None:
    """RFC 7644 §4: filters are not applied here, and a service SHOULD answer 403 to one."""
    with pytest.raises(ForbiddenException) as caught:
        endpoint(request("/x", {"filter": 'name eq "User"'}, **path_params))
    assert caught.value.status == 403


def test_other_query_parameters_are_ignored() -> None:
    """RFC 7644 §4: sorting and pagination SHALL be ignored on discovery endpoints."""
    body = list_schemas(request("/Schemas", {"count": "1", "startIndex": "3"})).body
    assert body["totalResults"] == len(body["Resources"]) == len(PROVIDER.schemas)

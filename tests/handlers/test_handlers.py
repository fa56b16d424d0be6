"""The real Lambda handlers, invoked with the API Gateway events in events/."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, load_event


class FakeContext:
    function_name = "scim-users"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:scim-users"
    aws_request_id = "5b8f4d5e-5c1a-4f52-9d8f-6c2b1e0a9f11"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py the way Lambda does: once, by file."""
    module_name = f"lambda_function_{name}"
    spec = importlib.util.spec_from_file_location(
        module_name, REPO_ROOT / "functions" / name / "app.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def users(stack):
    return load_function("users").handler


def invoke(handler: Any, event: dict[str, Any], **changes: Any) -> tuple[int, dict[str, str], Any]:
    for key, value in changes.items():
        event[key] = value
    response = handler(event, FakeContext())
    body = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], response.get("headers", {}), body


def for_user(event: dict[str, Any], user_id: str) -> dict[str, Any]:
    path = f"/scim/v2/Users/{user_id}"
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": user_id}
    return event


def test_entra_user_lifecycle_through_the_users_handler(users):
    status, headers, created = invoke(users, load_event("users_create_entra.json"))
    assert status == 201
    assert headers["content-type"] == "application/scim+json"
    assert created["meta"]["location"].startswith(
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com/scim/v2/Users/"
    )

    status, _, patched = invoke(
        users, for_user(load_event("users_patch_entra.json"), created["id"])
    )
    assert status == 200
    assert patched["active"] is False

    status, _, fetched = invoke(users, for_user(load_event("users_get.json"), created["id"]))
    assert (status, fetched["emails"][0]["value"]) == (200, "updatedEmail@contoso.com")

    status, _, _ = invoke(users, for_user(load_event("users_delete.json"), created["id"]))
    assert status == 204
    status, _, error = invoke(users, for_user(load_event("users_get.json"), created["id"]))
    assert (status, error["status"]) == (404, "404")


def test_okta_list_and_deactivation_through_the_users_handler(users):
    _, _, created = invoke(users, load_event("users_create_entra.json"))
    status, _, listed = invoke(users, load_event("users_list_okta.json"))
    assert (status, listed["totalResults"], listed["itemsPerPage"]) == (200, 1, 1)
    status, _, patched = invoke(
        users, for_user(load_event("users_deactivate_okta.json"), created["id"])
    )
    assert (status, patched["active"]) == (200, False)


def test_test_connection_event_gets_an_empty_list(users):
    status, _, body = invoke(users, load_event("users_test_connection_entra.json"))
    assert (status, body["totalResults"], body["Resources"]) == (200, 0, [])


def test_event_without_authorizer_context_is_a_scim_401(users):
    event = load_event("users_get.json")
    event["requestContext"]["authorizer"] = {"lambda": {"authError": "invalid_token"}}
    status, headers, body = invoke(users, event)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert body["status"] == "401"


def test_discovery_handler_serves_the_service_provider_config(stack):
    handler = load_function("discovery").handler
    status, _, body = invoke(handler, load_event("discovery_service_provider_config.json"))
    assert status == 200
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]


def test_authorizer_handler_maps_a_valid_token_to_its_organization(stack):
    token = stack.create_organization("contoso")
    handler = load_function("authorizer").handler
    event = load_event("authorizer_request.json")
    event["headers"]["authorization"] = f"Bearer {token}"
    event["identitySource"] = [f"Bearer {token}"]
    assert handler(event, FakeContext()) == {"isAuthorized": True, "context": {"orgId": "contoso"}}
    event["headers"]["authorization"] = "Bearer " + token[:-2] + "xx"
    assert handler(event, FakeContext())["context"] == {"authError": "invalid_token"}


def for_group(event: dict[str, Any], group_id: str, members: dict[str, str] | None = None):
    """An events/ group request aimed at a real group, with the sample member ids replaced."""
    text = json.dumps(event)
    text = text.replace("7f3b2c1a-9d8e-4f6a-b5c4-3e2d1f0a9b8c", group_id)
    for sample, real in (members or {}).items():
        text = text.replace(sample, real)
    return json.loads(text)


def test_group_flows_through_the_groups_handler(stack):
    users = load_function("users").handler
    groups = load_function("groups").handler
    _, _, first = invoke(users, load_event("users_create_entra.json"))
    second_event = load_event("users_create_entra.json")
    second_event["body"] = json.dumps({"userName": "second@contoso.com"})
    _, _, second = invoke(users, second_event)
    ids = {
        "5d48a0a8-e3f2-4e6c-8f8c-5d2b4a8c9e10": first["id"],
        "2819c223-7f76-453a-919d-413861904646": second["id"],
    }

    status, _, group = invoke(groups, load_event("groups_create_entra.json"))
    assert status == 201
    status, _, found = invoke(groups, load_event("groups_query_entra.json"))
    assert (status, [g["id"] for g in found["Resources"]]) == (200, [group["id"]])

    added = for_group(load_event("groups_add_members_entra.json"), group["id"], ids)
    status, _, body = invoke(groups, added)
    assert (status, len(body["members"])) == (200, 2)

    removed = for_group(load_event("groups_remove_member_entra.json"), group["id"], ids)
    status, _, body = invoke(groups, removed)
    assert [m["value"] for m in body["members"]] == [second["id"]]

    pushed = for_group(load_event("groups_push_okta.json"), group["id"], ids)
    status, _, body = invoke(groups, pushed)
    assert sorted(m["value"] for m in body["members"]) == sorted(ids.values())

    okta_removed = for_group(load_event("groups_remove_members_okta.json"), group["id"], ids)
    status, _, body = invoke(groups, okta_removed)
    assert [m["value"] for m in body["members"]] == [first["id"]]

    status, _, _ = invoke(groups, for_group(load_event("groups_delete.json"), group["id"]))
    assert status == 204

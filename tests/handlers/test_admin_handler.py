"""The admin function's real handler, invoked with an IAM-authorized API Gateway event."""

from __future__ import annotations

import json

import pytest

from provisioning import clients
from provisioning.auth.tokens import TokenService
from tests.conftest import load_event
from tests.handlers.test_handlers import invoke, load_function


@pytest.fixture
def admin(stack):
    return load_function("admin").handler


def create_event(body: object) -> dict:
    event = load_event("admin_create_organization.json")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def test_organization_creation_returns_its_token_once(admin):
    status, headers, body = invoke(admin, load_event("admin_create_organization.json"))
    assert status == 201
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert body["organization"]["name"] == "Contoso"
    tokens = TokenService(clients.secrets_manager(), "scim/orgs/")
    assert tokens.verify(body["token"]) == "contoso"


def test_second_organization_creation_is_a_conflict_without_a_token(admin):
    invoke(admin, load_event("admin_create_organization.json"))
    status, _, body = invoke(admin, load_event("admin_create_organization.json"))
    assert status == 409
    assert body == {"error": "conflict", "message": "organization contoso already exists"}


def test_organization_creation_with_a_token_secret_already_there_is_a_conflict(admin, stack):
    stack.create_organization("contoso")
    status, _, body = invoke(admin, load_event("admin_create_organization.json"))
    assert (status, body["error"]) == (409, "conflict")
    assert "token" not in body
    event = load_event("admin_create_organization.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin/orgs/contoso"
    event["requestContext"]["http"]["method"] = "GET"
    assert invoke(admin, event)[0] == 404


def test_invalid_organization_id_is_a_400_naming_the_rule(admin):
    status, _, body = invoke(admin, create_event({"id": "Not_Valid"}))
    assert (status, body["error"]) == (400, "invalidInput")
    assert "lower-case" in body["message"]


def test_body_that_is_not_json_is_a_400(admin):
    status, _, body = invoke(admin, create_event("{not json"))
    assert (status, body["error"]) == (400, "invalidInput")


def test_unknown_field_is_a_400_naming_it(admin):
    status, _, body = invoke(admin, create_event({"id": "contoso", "colour": "blue"}))
    assert status == 400
    assert "colour" in body["message"]


def test_unknown_admin_path_is_a_json_404(admin):
    event = load_event("admin_create_organization.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/admin/nothing"
    status, _, body = invoke(admin, event)
    assert (status, body["error"]) == (404, "notFound")


def test_unsupported_method_is_a_json_405(admin):
    event = load_event("admin_create_organization.json")
    event["requestContext"]["http"]["method"] = "DELETE"
    status, _, body = invoke(admin, event)
    assert (status, body["error"]) == (405, "methodNotAllowed")

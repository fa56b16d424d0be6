"""The body limit through the real Lambda handlers, with the API Gateway events in events/: a body
over `max_body_bytes` is a SCIM 413 (RFC 7644 §3.12) before it is parsed, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from provisioning.settings import get_settings
from tests.conftest import load_event
from tests.handlers.test_handlers import for_user, invoke, load_function

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.fixture
def users(stack):
    return load_function("users").handler


def limit() -> int:
    return get_settings().max_body_bytes


def with_body(event: dict[str, Any], body: bytes | str, length: int | None) -> dict[str, Any]:
    """The event carrying `body`, and `length` as its content-length (None: no header)."""
    event["body"] = body.decode() if isinstance(body, bytes) else body
    event["headers"].pop("content-length", None)
    if length is not None:
        event["headers"]["content-length"] = str(length)
    return event


def oversized_user() -> str:
    """A valid user whose JSON is one byte over the limit."""
    shell = json.dumps({"userName": "big@contoso.com", "displayName": ""})
    padding = limit() + 1 - len(shell)
    return json.dumps({"userName": "big@contoso.com", "displayName": "x" * padding})


def users_total(users) -> int:
    status, _, listed = invoke(users, load_event("users_list_okta.json"))
    assert status == 200
    return int(listed["totalResults"])


def assert_413(status: int, body: dict[str, Any]) -> None:
    assert status == 413
    assert body["schemas"] == [ERROR]
    assert body["status"] == "413"
    assert "scimType" not in body
    assert f"{limit()} bytes" in body["detail"]


def test_a_body_over_the_limit_is_413_and_creates_nothing(users):
    body = oversized_user()
    assert len(body.encode()) == limit() + 1
    status, headers, error = invoke(
        users, with_body(load_event("users_create_entra.json"), body, len(body))
    )
    assert_413(status, error)
    assert headers["content-type"] == "application/scim+json"
    assert users_total(users) == 0


def test_the_declared_length_alone_refuses_the_request(users):
    """Content-Length is checked before the body is read: a small body declared large is 413."""
    event = load_event("users_create_entra.json")
    status, _, error = invoke(users, with_body(event, event["body"], limit() + 1))
    assert_413(status, error)
    assert users_total(users) == 0


def test_a_body_without_content_length_is_counted(users):
    status, _, error = invoke(
        users, with_body(load_event("users_create_entra.json"), oversized_user(), None)
    )
    assert_413(status, error)
    assert users_total(users) == 0


def test_size_is_checked_before_the_body_is_parsed(users):
    """Over the limit and not JSON at all: 413, not 400 invalidSyntax."""
    body = "{" * (limit() + 1)
    status, _, error = invoke(
        users, with_body(load_event("users_create_entra.json"), body, len(body))
    )
    assert_413(status, error)


def test_a_body_at_the_limit_is_parsed(users):
    """The limit is inclusive: a body of exactly max_body_bytes goes on to be read as JSON."""
    body = "{" * limit()
    status, _, error = invoke(
        users, with_body(load_event("users_create_entra.json"), body, len(body))
    )
    assert (status, error["scimType"]) == (400, "invalidSyntax")


def test_a_patch_over_the_limit_leaves_the_user_unchanged(users):
    _, _, created = invoke(users, load_event("users_create_entra.json"))
    event = for_user(load_event("users_patch_entra.json"), created["id"])
    operations = [{"op": "replace", "path": "title", "value": "x" * (limit() + 1)}]
    body = json.dumps(
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
    )
    status, _, error = invoke(users, with_body(event, body, len(body)))
    assert_413(status, error)
    _, _, after = invoke(users, for_user(load_event("users_get.json"), created["id"]))
    assert after == created | {"meta": after["meta"]}
    assert after["meta"]["version"] == 'W/"1"'


def test_an_unauthenticated_oversized_request_is_401(users):
    event = load_event("users_create_entra.json")
    event["requestContext"]["authorizer"] = {"lambda": {"authError": "invalid_token"}}
    status, headers, error = invoke(users, with_body(event, event["body"], limit() + 1))
    assert (status, error["status"]) == (401, "401")
    assert headers["www-authenticate"].startswith("Bearer")

"""Request bodies over the size limit through the local stack (API Gateway passes bodies up to its
own 10 MB; the functions take `max_body_bytes`): a SCIM 413 (RFC 7644 §3.12, no scimType, the
detail naming the limit) before the body is parsed, on every write of every resource type, and
nothing written."""

from __future__ import annotations

import json

import pytest

from provisioning.settings import get_settings
from tests.conftest import PATCH_SCHEMA, USER_SCHEMA
from tests.http.test_preconditions import GROUP_SCHEMA, refused, snapshot


def limit() -> int:
    return get_settings().max_body_bytes


def padded(document: dict, field: str, size: int) -> bytes:
    """The document as JSON of exactly `size` bytes, `field` (a string) filled to get there."""
    document = {**document, field: ""}
    shell = len(json.dumps(document).encode())
    return json.dumps({**document, field: "x" * (size - shell)}).encode()


def too_large(response) -> None:
    body = refused(response, 413)
    assert f"{limit()} bytes" in body["detail"]


@pytest.mark.parametrize(
    ("endpoint", "document", "field"),
    [
        ("/Users", {"schemas": [USER_SCHEMA], "userName": "big@contoso.com"}, "displayName"),
        ("/Groups", {"schemas": [GROUP_SCHEMA]}, "displayName"),
    ],
)
def test_a_post_over_the_limit_is_413_and_creates_nothing(contoso, endpoint, document, field):
    body = padded(document, field, limit() + 1)
    too_large(contoso.post(endpoint, body))
    assert contoso.get(endpoint).json()["totalResults"] == 0


def test_put_and_patch_over_the_limit_leave_the_resource_unchanged(contoso):
    user = f"/Users/{contoso.create_user('ada@contoso.com')['id']}"
    group = f"/Groups/{contoso.post('/Groups', {'displayName': 'Crew'}).json()['id']}"
    before = {path: snapshot(contoso, path) for path in (user, group)}
    put = padded({"userName": "ada@contoso.com"}, "title", limit() + 1)
    too_large(contoso.put(user, put))
    too_large(contoso.put(group, padded({"schemas": [GROUP_SCHEMA]}, "displayName", limit() + 1)))
    operation = {"op": "replace", "path": "displayName", "value": "x" * limit()}
    patch = json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [operation]}).encode()
    too_large(contoso.request("PATCH", user, patch))
    too_large(contoso.request("PATCH", group, patch))
    assert {path: snapshot(contoso, path) for path in (user, group)} == before


def test_the_size_is_checked_before_parsing(contoso):
    """Not even JSON, but too large: 413 rather than 400 invalidSyntax."""
    too_large(contoso.post("/Users", b"[" * (limit() + 1)))


def test_a_body_of_exactly_the_limit_is_read(contoso):
    """The limit is inclusive: at max_body_bytes the body is parsed (and this one is no JSON)."""
    refused(contoso.post("/Users", b"[" * limit()), 400, "invalidSyntax")

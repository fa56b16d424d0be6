"""Every answer under /scim/v2 is a SCIM Error with `application/scim+json` (RFC 7644 §3.12):
unknown paths, unknown methods, missing or bad credentials. The routes come from template.yaml,
so a route added there is covered here without a new test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from provisioning.local.template import DEFAULT_ROUTE
from tests.conftest import ERROR_SCHEMA, SCIM_JSON
from tests.template.conftest import load_template

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _scim_paths() -> Iterator[str]:
    """A concrete path for every SCIM route of the template ({id} filled in)."""
    for resource in load_template()["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            path = (event.get("Properties") or {}).get("Path", DEFAULT_ROUTE)
            if event["Type"] == "HttpApi" and path.startswith("/scim/v2"):
                yield re.sub(r"\{[^}]+\}", "2819c223-7f76-453a-919d-413861904646", path)


SCIM_PATHS = sorted(set(_scim_paths()))
UNKNOWN_PATHS = ["/scim/v2/Nope", "/scim/v2/Users/a/b", "/scim/v2", "/scim/v3/Users", "/elsewhere"]


def assert_scim_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.headers["content-type"] == SCIM_JSON
    body: dict[str, Any] = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    assert body["status"] == str(status)
    return body


def test_the_route_table_is_read_from_the_template() -> None:
    assert "/scim/v2/Users" in SCIM_PATHS
    assert len(SCIM_PATHS) >= 8


@pytest.mark.parametrize("path", SCIM_PATHS + UNKNOWN_PATHS)
@pytest.mark.parametrize("method", METHODS)
def test_without_authorization_every_answer_is_a_scim_401(stack, path, method) -> None:
    response = stack.request(method, path, headers={"Content-Type": SCIM_JSON}, body=None)
    assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", METHODS)
def test_an_unknown_path_is_a_scim_404(contoso, path, method) -> None:
    response = contoso.stack.request(
        method,
        path,
        headers={"Authorization": f"Bearer {contoso.token}", "Content-Type": SCIM_JSON},
        body={"schemas": []} if method in {"POST", "PUT", "PATCH"} else None,
    )
    assert_scim_error(response, 404)


@pytest.mark.parametrize("path", SCIM_PATHS)
def test_an_unknown_method_is_a_scim_error(contoso, path) -> None:
    """A method the HTTP API routes (ANY) but the endpoint does not serve: 405 (or 404 for a
    resource that does not exist), never API Gateway's bare body."""
    response = contoso.stack.request(
        "OPTIONS", path, headers={"Authorization": f"Bearer {contoso.token}"}, body=None
    )
    assert response.status in {404, 405}
    assert_scim_error(response, response.status)

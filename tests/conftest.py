"""Fixtures: a fresh moto world per test, with the stack built from template.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.local import LocalStack

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS = REPO_ROOT / "events"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def load_event(name: str) -> dict[str, Any]:
    """A real API Gateway event from events/ (the same files `sam local invoke` uses)."""
    return json.loads((EVENTS / name).read_text())


class ScimClient:
    """An identity provider's view of the API: one organization's token, SCIM JSON bodies."""

    def __init__(self, stack: LocalStack, token: str, user_agent: str = "pytest") -> None:
        self.stack = stack
        self.token = token
        self.user_agent = user_agent

    def request(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        sent = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": SCIM_JSON,
            "User-Agent": self.user_agent,
        }
        sent.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self.stack.request(method, f"/scim/v2{path}", headers=sent, body=body)

    def get(self, path: str, **headers: str) -> Any:
        return self.request("GET", path, **headers)

    def post(self, path: str, body: Any, **headers: str) -> Any:
        return self.request("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: str) -> Any:
        return self.request("PUT", path, body, **headers)

    def patch(self, path: str, operations: list[dict[str, Any]], **headers: str) -> Any:
        return self.request(
            "PATCH", path, {"schemas": [PATCH_SCHEMA], "Operations": operations}, **headers
        )

    def delete(self, path: str, **headers: str) -> Any:
        return self.request("DELETE", path, **headers)

    def create_user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        response = self.post(
            "/Users", {"schemas": [USER_SCHEMA], "userName": user_name, **attributes}
        )
        assert response.status == 201, response.body
        created: dict[str, Any] = response.json()
        return created


def directory_items() -> list[str]:
    """Every item of the table as canonical JSON, sorted, except the per-organization request
    counters (every authenticated request counts itself): equal lists mean nothing changed."""
    from provisioning import clients
    from provisioning.settings import get_settings

    client = clients.dynamodb()
    items: list[str] = []
    for page in client.get_paginator("scan").paginate(TableName=get_settings().table_name):
        items += [
            json.dumps(item, sort_keys=True)
            for item in page["Items"]
            if not item["pk"]["S"].startswith("RATE#")
        ]
    return sorted(items)


def admin_call(stack: LocalStack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One admin API request (IAM-authorized on AWS, open on the local stack's loopback)."""
    headers = {"Content-Type": "application/json"}
    response = stack.request(method, f"/admin{path}", headers=headers, body=body)
    return response.status, (response.json() if response.body else None)


def consistency_violations(stack: LocalStack, org_id: str) -> list[dict[str, Any]]:
    """Every violation `scimctl check` finds in the organization, through the admin API, after
    the stream, bus and fan-out have settled."""
    stack.drain()
    violations: list[dict[str, Any]] = []
    cursor = ""
    while True:
        suffix = f"?cursor={cursor}" if cursor else ""
        status, answer = admin_call(stack, "GET", f"/orgs/{org_id}/check{suffix}")
        assert status == 200, answer
        violations += answer["violations"]
        cursor = answer["next"]
        if not cursor:
            return violations


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack.start(REPO_ROOT) as local:
        yield local


@pytest.fixture
def contoso(stack: LocalStack) -> ScimClient:
    return ScimClient(
        stack, stack.create_organization("contoso"), "Microsoft.Identity.Provisioning"
    )


@pytest.fixture
def fabrikam(stack: LocalStack) -> ScimClient:
    return ScimClient(stack, stack.create_organization("fabrikam"))


@pytest.fixture
def okta(stack: LocalStack) -> ScimClient:
    return ScimClient(stack, stack.create_organization("initech"), "Okta SCIM Client 1.0.0")

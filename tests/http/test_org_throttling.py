"""An organization over its request rate gets a SCIM 429 with Retry-After; the others do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provisioning.local import LocalStack
from tests.conftest import ERROR_SCHEMA, REPO_ROOT, USER_SCHEMA, ScimClient


@pytest.fixture
def strict_stack() -> Iterator[LocalStack]:
    """The stack deployed with OrgRequestsPerSecond=1."""
    with LocalStack.start(REPO_ROOT, parameters={"OrgRequestsPerSecond": "1"}) as local:
        yield local


def flood_until_refused(client: ScimClient) -> object:
    """Requests back to back until one is refused (two land in one second long before 50)."""
    for _ in range(50):
        response = client.get("/Users")
        if response.status != 200:
            return response
    raise AssertionError("never refused")


def test_a_flooding_organization_gets_a_scim_429_and_the_others_do_not(strict_stack):
    flooding = ScimClient(strict_stack, strict_stack.create_organization("contoso"))
    other = ScimClient(strict_stack, strict_stack.create_organization("fabrikam"))
    refused = flood_until_refused(flooding)
    assert refused.status == 429
    assert refused.json()["schemas"] == [ERROR_SCHEMA]
    assert refused.json()["status"] == "429"
    assert refused.headers["retry-after"] == "1"
    assert other.get("/Users").status == 200


def test_a_refused_write_writes_nothing(strict_stack):
    flooding = ScimClient(strict_stack, strict_stack.create_organization("contoso"))
    flood_until_refused(flooding)
    # Immediately after a refusal the window is still full: this create is refused too.
    created = flooding.post("/Users", {"schemas": [USER_SCHEMA], "userName": "late@example.com"})
    if created.status == 429:
        strict_stack.drain()
        listed = flood_until_listed(flooding)
        assert listed["totalResults"] == 0
    else:  # the second turned between the two requests: the create went through, once
        assert created.status == 201


def flood_until_listed(client: ScimClient) -> dict:
    for _ in range(50):
        response = client.get("/Users")
        if response.status == 200:
            return response.json()
    raise AssertionError("never admitted again")


def test_the_default_rate_lets_a_client_work(contoso):
    """The template's default (25 per second) admits a client's ordinary pace."""
    for number in range(5):
        assert contoso.create_user(f"user{number}@example.com")["id"]

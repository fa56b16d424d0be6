"""An organization over its request rate gets a SCIM 429 with Retry-After; the others do not."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from provisioning.local import LocalStack
from tests.conftest import ERROR_SCHEMA, REPO_ROOT, USER_SCHEMA, ScimClient


@pytest.fixture
def strict_stack() -> Iterator[LocalStack]:
    """The stack deployed with OrgRequestsPerSecond=1: ten requests per ten-second window."""
    with LocalStack.start(REPO_ROOT, parameters={"OrgRequestsPerSecond": "1"}) as local:
        yield local


def flood_until_refused(client: ScimClient) -> object:
    """Requests back to back until one is refused (eleven land in ten seconds long before 50)."""
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
    assert 1 <= int(refused.headers["retry-after"]) <= 10
    assert other.get("/Users").status == 200


def test_a_refused_write_writes_nothing(strict_stack):
    flooding = ScimClient(strict_stack, strict_stack.create_organization("contoso"))
    refused = flood_until_refused(flooding)
    # The window is still full: this create is refused too, and writes nothing.
    created = flooding.post("/Users", {"schemas": [USER_SCHEMA], "userName": "late@example.com"})
    assert created.status == 429, created.body
    strict_stack.drain()
    time.sleep(int(refused.headers["retry-after"]))
    listed = flooding.get("/Users")
    assert listed.status == 200, "Retry-After was too short"
    assert listed.json()["totalResults"] == 0


def test_the_default_rate_admits_more_than_entras_guideline(contoso):
    """The template's default (50 per second, 500 per ten seconds) admits a burst well over the
    25 requests per second Entra's guidelines ask a SCIM service to support."""
    for number in range(60):
        assert contoso.create_user(f"user{number}@example.com")["id"]

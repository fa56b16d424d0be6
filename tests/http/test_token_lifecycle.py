"""Every kind of bad token is a SCIM 401 through the authorizer, down to revoked and expired ones.

The stack runs with AuthorizerCacheSeconds=0, so each request reads the organization's digests
as they are now (with the default 30 s, a revoked token stops working within that time)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from provisioning.local import LocalStack
from tests.conftest import REPO_ROOT, ScimClient, admin_call
from tests.http.test_auth_and_isolation import assert_scim_401


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with LocalStack.start(REPO_ROOT, parameters={"AuthorizerCacheSeconds": "0"}) as local:
        yield local


@pytest.fixture
def acme(stack) -> ScimClient:
    status, created = admin_call(stack, "POST", "/orgs", {"id": "acme", "name": "Acme"})
    assert status == 201, created
    return ScimClient(stack, created["token"])


def rotate(stack: LocalStack, grace_hours: float) -> ScimClient:
    status, body = admin_call(stack, "POST", "/orgs/acme/token/rotate", {"graceHours": grace_hours})
    assert status == 200, body
    return ScimClient(stack, body["token"])


def with_token(client: ScimClient, authorization: str):
    return client.stack.request("GET", "/scim/v2/Users", headers={"Authorization": authorization})


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token.replace("scim_", "scum_", 1),  # wrong prefix
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # wrong secret
        lambda token: token[:-10],  # truncated
        lambda token: token + "=",  # padded
        lambda token: token.upper(),  # case changed
        lambda token: token.replace("_", " "),  # malformed
        lambda token: "",  # empty
    ],
    ids=["wrong-prefix", "wrong-secret", "truncated", "padded", "case", "malformed", "empty"],
)
def test_a_mangled_token_is_a_scim_401(acme, mangle):
    assert_scim_401(with_token(acme, f"Bearer {mangle(acme.token)}"))
    assert acme.get("/Users").status == 200


def test_the_scheme_is_case_insensitive_but_required(acme):
    assert with_token(acme, f"bearer {acme.token}").status == 200
    assert_scim_401(with_token(acme, acme.token))


def test_a_revoked_token_is_a_scim_401_at_once(acme):
    fresh = rotate(acme.stack, 0)
    assert_scim_401(acme.get("/Users"))
    assert fresh.get("/Users").status == 200


def test_a_token_past_its_grace_period_is_a_scim_401(acme):
    fresh = rotate(acme.stack, 1.5 / 3600)  # 1.5 seconds of grace
    assert acme.get("/Users").status == 200
    time.sleep(2)
    assert_scim_401(acme.get("/Users"))
    assert fresh.get("/Users").status == 200


def test_another_organizations_token_reads_its_own_organization_only(acme, stack):
    status, other = admin_call(stack, "POST", "/orgs", {"id": "globex", "name": "Globex"})
    assert status == 201
    globex = ScimClient(stack, other["token"])
    created = acme.create_user("ada@acme.example")
    assert globex.get(f"/Users/{created['id']}").status == 404
    secret = globex.token.removeprefix("scim_globex_")
    assert_scim_401(with_token(acme, f"Bearer scim_acme_{secret}"))

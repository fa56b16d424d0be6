"""Bearer tokens through the authorizer, and one organization never touching another's users."""

import pytest

from provisioning.auth.tokens import new_token
from tests.conftest import ERROR_SCHEMA, ScimClient


def assert_scim_401(response):
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert response.json()["status"] == "401"


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-token",
        "Basic dXNlcjpwYXNz",
        "Bearer scim_contoso_" + "A" * 43,  # well formed, never issued
        "Bearer scim_nosuchorg_" + "B" * 43,  # organization without a secret
    ],
    ids=["not-a-token", "basic-scheme", "never-issued", "unknown-organization"],
)
def test_bad_tokens_get_a_scim_401_with_a_bearer_challenge(contoso, authorization):
    response = contoso.stack.request(
        "GET", "/scim/v2/Users", headers={"Authorization": authorization}
    )
    assert_scim_401(response)


def test_missing_authorization_header_gets_a_scim_401(stack):
    # The authorizer has no identity source, so API Gateway never answers with its own 401.
    assert_scim_401(stack.request("GET", "/scim/v2/Users"))


def test_the_token_never_appears_in_an_error(contoso):
    token = new_token("contoso")
    response = contoso.stack.request(
        "GET", "/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}
    )
    assert token not in response.body.decode()


def test_discovery_also_requires_a_token(stack):
    response = stack.request(
        "GET", "/scim/v2/ServiceProviderConfig", headers={"Authorization": "Bearer nope"}
    )
    assert_scim_401(response)


def test_an_organization_sees_and_changes_only_its_own_users(contoso, fabrikam):
    mine = contoso.create_user("shared.name@example.com", externalId="same-external-id")
    # The same userName and externalId are free in another organization.
    theirs = fabrikam.create_user("shared.name@example.com", externalId="same-external-id")
    assert fabrikam.get(f"/Users/{mine['id']}").status == 404
    assert (
        fabrikam.patch(
            f"/Users/{mine['id']}", [{"op": "replace", "path": "active", "value": False}]
        ).status
        == 404
    )
    assert fabrikam.put(f"/Users/{mine['id']}", {"userName": "x"}).status == 404
    assert fabrikam.delete(f"/Users/{mine['id']}").status == 404
    listed = fabrikam.get("/Users").json()
    assert [r["id"] for r in listed["Resources"]] == [theirs["id"]]
    found = fabrikam.get('/Users?filter=userName eq "shared.name@example.com"').json()
    assert [r["id"] for r in found["Resources"]] == [theirs["id"]]
    assert contoso.get(f"/Users/{mine['id']}").json()["meta"]["version"] == 'W/"1"'


def test_a_token_of_one_organization_cannot_be_relabelled_for_another(contoso, fabrikam):
    secret = contoso.token.removeprefix("scim_contoso_")
    forged = ScimClient(contoso.stack, f"scim_fabrikam_{secret}")
    assert_scim_401(forged.get("/Users"))

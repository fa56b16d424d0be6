"""Organization tokens in Secrets Manager (moto): issue, verify, rotate with a grace period."""

from __future__ import annotations

from datetime import timedelta

import pytest

from provisioning import clients
from provisioning.auth.tokens import OrganizationExistsError, TokenService


@pytest.fixture
def tokens(stack) -> TokenService:
    return TokenService(clients.secrets_manager(), "scim/orgs/")


def test_issued_token_verifies_to_its_organization(tokens):
    token = tokens.create_organization("contoso")
    assert tokens.verify(token) == "contoso"
    assert tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_secret_holds_only_digests(tokens):
    token = tokens.create_organization("contoso")
    value = clients.secrets_manager().get_secret_value(SecretId="scim/orgs/contoso/tokens")
    assert token not in value["SecretString"]
    assert token.removeprefix("scim_contoso_") not in value["SecretString"]


def test_an_organization_is_created_once(tokens):
    tokens.create_organization("contoso")
    with pytest.raises(OrganizationExistsError):
        tokens.create_organization("contoso")


def test_rotation_keeps_the_previous_token_for_the_grace_period(tokens):
    first = tokens.create_organization("contoso")
    second = tokens.rotate("contoso", timedelta(hours=24))
    fresh = TokenService(clients.secrets_manager(), "scim/orgs/")  # no cached digests
    assert fresh.verify(first) == "contoso"
    assert fresh.verify(second) == "contoso"
    third = tokens.rotate("contoso", timedelta(0))
    fresh = TokenService(clients.secrets_manager(), "scim/orgs/")
    assert fresh.verify(first) is None
    assert fresh.verify(second) is None
    assert fresh.verify(third) == "contoso"


def test_a_rotation_that_cannot_read_the_secret_fails_and_revokes_nothing(tokens):
    first = tokens.create_organization("contoso")
    client = clients.secrets_manager()

    def throttled(**_):
        raise client.exceptions.ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "GetSecretValue",
        )

    client.meta.events.register("before-call.secrets-manager.GetSecretValue", throttled)
    try:
        with pytest.raises(client.exceptions.ClientError):
            tokens.rotate("contoso", timedelta(hours=24))
    finally:
        client.meta.events.unregister("before-call.secrets-manager.GetSecretValue", throttled)
    fresh = TokenService(client, "scim/orgs/")
    assert fresh.verify(first) == "contoso"

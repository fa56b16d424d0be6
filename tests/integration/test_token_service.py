"""Organization tokens in Secrets Manager (moto): issue, verify, rotate with a grace period."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from provisioning import clients
from provisioning.auth.tokens import OrganizationExistsError, RotationConflictError, TokenService


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


def test_two_rotations_at_once_keep_both_new_tokens(tokens):
    """Both rotations read the secret's current version before either writes: a plain put would
    let the second write drop the first one's token."""
    first = tokens.create_organization("contoso")
    client = clients.secrets_manager()
    both_read = threading.Barrier(2, timeout=10)
    waited: set[int] = set()

    def hold_first_read(**_):
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_read.wait()

    client.meta.events.register("after-call.secrets-manager.GetSecretValue", hold_first_read)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            rotations = [
                pool.submit(tokens.rotate, "contoso", timedelta(hours=24)) for _ in range(2)
            ]
            issued = [rotation.result(timeout=30) for rotation in rotations]
    finally:
        client.meta.events.unregister("after-call.secrets-manager.GetSecretValue", hold_first_read)
    assert len(waited) == 2
    fresh = TokenService(client, "scim/orgs/")
    assert [fresh.verify(token) for token in [first, *issued]] == ["contoso"] * 3


def test_a_rotation_that_keeps_losing_gives_up_and_changes_nothing(tokens):
    first = tokens.create_organization("contoso")
    client = clients.secrets_manager()

    def lost(**_):
        raise client.exceptions.InvalidParameterException(
            {"Error": {"Code": "InvalidParameterException", "Message": "not current"}},
            "UpdateSecretVersionStage",
        )

    client.meta.events.register("before-call.secrets-manager.UpdateSecretVersionStage", lost)
    try:
        with pytest.raises(RotationConflictError):
            tokens.rotate("contoso", timedelta(0))
    finally:
        client.meta.events.unregister("before-call.secrets-manager.UpdateSecretVersionStage", lost)
    assert TokenService(client, "scim/orgs/").verify(first) == "contoso"


def test_a_verifier_trusts_its_cached_digests_for_its_cache_seconds_only(stack):
    """AuthorizerCacheSeconds: a revoked token keeps working from a warm cache for that long;
    with 0 the very next request reads Secrets Manager and is refused."""
    issuer = TokenService(clients.secrets_manager(), "scim/orgs/")
    first = issuer.create_organization("contoso")
    cached = TokenService(clients.secrets_manager(), "scim/orgs/", cache_seconds=3600)
    uncached = TokenService(clients.secrets_manager(), "scim/orgs/", cache_seconds=0)
    assert cached.verify(first) == "contoso"
    assert uncached.verify(first) == "contoso"
    issuer.rotate("contoso", timedelta(0))
    assert cached.verify(first) == "contoso"
    assert uncached.verify(first) is None

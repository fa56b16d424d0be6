"""Token format, digests and constant-time verification (no AWS)."""

from datetime import UTC, datetime, timedelta

import pytest

from provisioning.auth.authorizer import bearer_token
from provisioning.auth.tokens import (
    InvalidOrganizationIdError,
    StoredToken,
    digest,
    matches_any,
    new_token,
    organization_of,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_new_token_names_its_organization_and_carries_256_random_bits():
    token = new_token("acme")
    assert organization_of(token) == "acme"
    secret = token.removeprefix("scim_acme_")
    assert len(secret) >= 43  # 32 bytes in URL-safe base64
    assert new_token("acme") != token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "Bearer x",
        "scim_acme",
        "scim_acme_short",
        "scim_ACME_" + "a" * 43,
        "xscim_acme_" + "a" * 43,
    ],
)
def test_malformed_tokens_name_no_organization(token):
    assert organization_of(token) is None


def test_organization_ids_that_cannot_be_embedded_are_refused():
    with pytest.raises(InvalidOrganizationIdError):
        new_token("Acme_Corp")


def test_only_an_unexpired_stored_digest_matches():
    token = new_token("acme")
    valid = StoredToken(digest(token), NOW)
    expired = StoredToken(digest(token), NOW - timedelta(days=2), NOW - timedelta(days=1))
    assert matches_any(token, [valid], NOW)
    assert not matches_any(token, [expired], NOW)
    assert not matches_any(new_token("acme"), [valid], NOW)


def test_stored_token_round_trips_through_json():
    stored = StoredToken("ab" * 32, NOW, NOW + timedelta(hours=24))
    assert StoredToken.from_json(stored.to_json()) == stored


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"Authorization": "bearer abc "}, "abc"),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header(headers, expected):
    assert bearer_token(headers) == expected

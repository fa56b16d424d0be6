"""The admin service's token rules on moto, with a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from provisioning import clients
from provisioning.access.errors import ConflictError, InvalidInputError
from provisioning.access.service import AccessService
from provisioning.admin.service import AdminService
from provisioning.auth.tokens import TokenService
from provisioning.settings import get_settings
from provisioning.store.organizations import OrganizationStore
from provisioning.store.resources import ResourceStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def admin(stack, clock) -> AdminService:
    table = get_settings().table_name
    return AdminService(
        OrganizationStore(clients.dynamodb(), table),
        TokenService(clients.secrets_manager(), "scim/orgs/", clock=clock),
        ResourceStore(clients.dynamodb(), table),
        AccessService.build(),
        clock=clock,
    )


def verify(token: str, clock: Clock) -> str | None:
    """As the authorizer would, with no cached digests."""
    return TokenService(clients.secrets_manager(), "scim/orgs/", clock=clock).verify(token)


def test_previous_token_is_valid_within_the_default_grace(admin, clock):
    _, first = admin.create_organization("contoso")
    admin.rotate_token("contoso", timedelta(hours=24))
    clock.now += timedelta(hours=23, minutes=59)
    assert verify(first, clock) == "contoso"


def test_previous_token_is_invalid_after_the_grace(admin, clock):
    _, first = admin.create_organization("contoso")
    second = admin.rotate_token("contoso", timedelta(hours=24))
    clock.now += timedelta(hours=24)
    assert verify(first, clock) is None
    assert verify(second, clock) == "contoso"


def test_zero_grace_revokes_the_previous_token_at_once(admin, clock):
    _, first = admin.create_organization("contoso")
    admin.rotate_token("contoso", timedelta(0))
    assert verify(first, clock) is None


def test_token_service_default_grace_is_24_hours(clock, stack):
    tokens = TokenService(clients.secrets_manager(), "scim/orgs/", clock=clock)
    first = tokens.create_organization("contoso")
    tokens.rotate("contoso")
    clock.now += timedelta(hours=23)
    assert verify(first, clock) == "contoso"
    clock.now += timedelta(hours=1)
    assert verify(first, clock) is None


def test_negative_grace_is_invalid_input(admin):
    admin.create_organization("contoso")
    with pytest.raises(InvalidInputError):
        admin.rotate_token("contoso", timedelta(hours=-1))


def test_second_creation_conflicts_and_issues_no_token(admin):
    admin.create_organization("contoso")
    with pytest.raises(ConflictError):
        admin.create_organization("contoso")

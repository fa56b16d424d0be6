"""The admin service's token rules on moto, with a clock the test moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from provisioning import clients
from provisioning.access.errors import ConflictError, InvalidInputError
from provisioning.access.model import Level, Target, TargetKind
from provisioning.access.service import AccessService
from provisioning.admin.service import AdminService
from provisioning.auth.tokens import TokenService
from provisioning.scim.users import UserService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.organizations import OrganizationStore
from provisioning.store.resources import ResourceStore

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


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
    tokens.rotate("contoso", timedelta(hours=24))
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


class TransactionCalls:
    """The TransactWriteItems calls a client makes (their items), failing those that write an
    access record when `fail_access_writes` is set."""

    def __init__(self, client) -> None:
        self.items: list[list[dict]] = []
        self.fail_access_writes = False
        self._client = client
        client.meta.events.register("before-call.dynamodb.TransactWriteItems", self)

    def __call__(self, params, **_):
        items = json.loads(params["body"])["TransactItems"]
        self.items.append(items)
        writes_access = any(
            (item.get("Put") or {}).get("Item", {}).get("kind", {}).get("S") == "Access"
            for item in items
        )
        if self.fail_access_writes and writes_access:
            raise self._client.exceptions.InternalServerError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}},
                "TransactWriteItems",
            )

    def close(self) -> None:
        self._client.meta.events.unregister("before-call.dynamodb.TransactWriteItems", self)


@pytest.fixture
def transactions(stack):
    calls = TransactionCalls(clients.dynamodb())
    yield calls
    calls.close()


@pytest.fixture
def member(admin) -> str:
    admin.create_organization("contoso")
    table = get_settings().table_name
    client = clients.dynamodb()
    users = UserService(ResourceStore(client, table), MembershipStore(client, table), table)
    created = users.create("contoso", {"schemas": [USER_SCHEMA], "userName": "ada@contoso.example"})
    return created.id


def test_member_workspace_its_home_folder_and_editor_grant_are_one_transaction(
    admin, member, transactions
):
    workspace, home = admin.create_workspace("contoso", "Mine", created_by=member)
    [items] = transactions.items
    written = {
        (item["Put"]["Item"]["kind"]["S"], item["Put"]["Item"]["sk"]["S"])
        for item in items
        if "Put" in item
    }
    assert {
        ("Workspace", f"Workspace#{workspace.id}"),
        ("Folder", f"Folder#{home.id}"),
        ("Access", f"workspace:{workspace.id}"),
        ("Outbox", next(sk for kind, sk in written if kind == "Outbox")),
    } == written
    record = AccessService.build().explain(
        "contoso", member, Target(type=TargetKind.WORKSPACE, id=workspace.id)
    )
    assert record is not None
    assert record.level is Level.EDITOR


def test_a_member_workspace_whose_grant_fails_is_not_created(admin, member, transactions):
    transactions.fail_access_writes = True
    with pytest.raises(ClientError):
        admin.create_workspace("contoso", "Mine", created_by=member)
    assert admin.workspaces("contoso") == []

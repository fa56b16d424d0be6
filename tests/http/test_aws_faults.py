"""Faults injected at the AWS client layer: a client gets 429 or 503 with Retry-After (never a
500), nothing is half applied, and a failing Secrets Manager never grants access.

A botocore `before-call` hook on the container's shared client raises the error AWS would return
once the client's own retries are spent; the table is compared before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from provisioning import clients
from tests.conftest import (
    ERROR_SCHEMA,
    USER_SCHEMA,
    ScimClient,
    admin_call,
    consistency_violations,
    directory_items,
)

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def client_error(code: str, operation: str, status: int = 400, **extra: Any) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": code},
            "ResponseMetadata": {"HTTPStatusCode": status},
            **extra,
        },
        operation,
    )


@contextmanager
def failing(client: Any, operation: str, error: Callable[[], Exception]) -> Iterator[None]:
    """`operation` of `client` fails with `error` while the block runs."""
    event = f"before-call.{client.meta.service_model.endpoint_prefix}.{operation}"

    def fail(**_: Any) -> None:
        raise error()

    client.meta.events.register(event, fail, unique_id="fault-injection")
    try:
        yield
    finally:
        client.meta.events.unregister(event, unique_id="fault-injection")


def assert_shed(response: Any, status: int) -> None:
    assert response.status == status, response.body
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    assert int(response.headers["retry-after"]) >= 1


WRITE_FAULTS = {
    "throttled": (
        lambda: client_error("ProvisionedThroughputExceededException", "TransactWriteItems"),
        429,
    ),
    "conflicting": (
        lambda: client_error(
            "TransactionCanceledException",
            "TransactWriteItems",
            CancellationReasons=[{"Code": "TransactionConflict"}],
        ),
        429,
    ),
    "internal-error": (lambda: client_error("InternalServerError", "TransactWriteItems", 500), 503),
    "timeout": (lambda: ReadTimeoutError(endpoint_url="https://dynamodb"), 503),
}


@pytest.fixture
def acme(stack) -> ScimClient:
    """An organization created through the admin API, so that `scimctl check` knows it."""
    status, created = admin_call(stack, "POST", "/orgs", {"id": "acme", "name": "Acme"})
    assert status == 201, created
    return ScimClient(stack, created["token"])


@pytest.mark.parametrize("fault", sorted(WRITE_FAULTS))
def test_a_failing_write_is_shed_and_writes_nothing(acme, fault) -> None:
    contoso = acme
    error, status = WRITE_FAULTS[fault]
    user = contoso.create_user("ada@example.com")
    contoso.stack.drain()
    before = directory_items()
    with failing(clients.dynamodb(), "TransactWriteItems", error):
        assert_shed(
            contoso.post("/Users", {"schemas": [USER_SCHEMA], "userName": "bob@example.com"}),
            status,
        )
        assert_shed(
            contoso.patch(
                f"/Users/{user['id']}", [{"op": "replace", "path": "active", "value": False}]
            ),
            status,
        )
        assert_shed(
            contoso.post(
                "/Groups",
                {"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": user["id"]}]},
            ),
            status,
        )
        assert_shed(contoso.delete(f"/Users/{user['id']}"), status)
    contoso.stack.drain()
    assert directory_items() == before
    # Healed: the same requests go through, and the directory holds every invariant.
    assert (
        contoso.post("/Users", {"schemas": [USER_SCHEMA], "userName": "bob@example.com"}).status
        == 201
    )
    assert consistency_violations(contoso.stack, "acme") == []


@pytest.mark.parametrize(
    ("operation", "path"),
    [("Query", '/Users?filter=userName eq "ada@example.com"'), ("GetItem", "/Users/{id}")],
)
def test_a_throttled_read_is_a_429(contoso, operation, path) -> None:
    user = contoso.create_user("ada@example.com")
    with failing(
        clients.dynamodb(), operation, lambda: client_error("ThrottlingException", operation)
    ):
        assert_shed(contoso.get(path.format(id=user["id"])), 429)


def test_secrets_manager_down_grants_nothing(stack) -> None:
    """The authorizer cannot read the digests: 401 for every token (it never guesses)."""
    status, created = admin_call(stack, "POST", "/orgs", {"id": "acme", "name": "Acme"})
    assert status == 201
    token = created["token"]
    # A fresh authorizer container, so no digest is cached from the admin's creation.
    with failing(
        clients.secrets_manager(),
        "GetSecretValue",
        lambda: client_error("InternalServiceError", "GetSecretValue", 500),
    ):
        response = stack.request(
            "GET", "/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status == 401
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    ok = stack.request("GET", "/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert ok.status == 200


def test_an_admin_write_that_is_throttled_is_a_429_with_retry_after(stack) -> None:
    with (
        failing(
            clients.dynamodb(),
            "PutItem",
            lambda: client_error("ProvisionedThroughputExceededException", "PutItem"),
        ),
        failing(
            clients.dynamodb(),
            "TransactWriteItems",
            lambda: client_error("ProvisionedThroughputExceededException", "TransactWriteItems"),
        ),
    ):
        response = stack.request(
            "POST", "/admin/orgs", headers={"Content-Type": "application/json"}, body={"id": "acme"}
        )
    assert response.status == 429, response.body
    assert response.json()["error"] == "tooManyRequests"
    assert response.headers["retry-after"] == "2"

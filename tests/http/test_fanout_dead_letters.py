"""A fan-out message that keeps failing reaches the dead-letter queue after five receives, and the
documented redrive (move the messages back to the fan-out queue) recovers it: access converges
and `scimctl check` finds nothing wrong."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import ClientError

from provisioning import clients
from tests.conftest import ScimClient, admin_call, consistency_violations

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def access_of(stack: Any, user_id: str) -> dict[str, str]:
    status, body = admin_call(stack, "GET", f"/orgs/acme/users/{user_id}/access")
    assert status == 200, body
    return {f"{r['target']['type']}:{r['target']['id']}": r["level"] for r in body["access"]}


def messages(queue_url: str) -> list[dict[str, Any]]:
    sqs = clients.sqs()
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        found += batch
    return found


def test_a_poison_message_reaches_the_dlq_and_a_redrive_recovers_it(stack) -> None:
    status, created = admin_call(stack, "POST", "/orgs", {"id": "acme", "name": "Acme"})
    assert status == 201, created
    scim = ScimClient(stack, created["token"])
    status, workspace = admin_call(stack, "POST", "/orgs/acme/workspaces", {"name": "Sales"})
    assert status == 201, workspace
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Sales"}).json()
    status, _ = admin_call(
        stack,
        "PUT",
        f"/orgs/acme/groups/{group['id']}/grants/workspace/{workspace['id']}",
        {"level": "editor"},
    )
    assert status == 200
    stack.drain()
    user = scim.create_user("ada@acme.example")

    # The fan-out's writes fail, every time, while the membership's event is delivered (the
    # local stack drives the chain after each request; only the fan-out function is broken).
    def broken(**_: Any) -> None:
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "").endswith("FanoutFunction"):
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}},
                "TransactWriteItems",
            )

    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb.TransactWriteItems", broken, unique_id="poison")
    try:
        joined = scim.patch(
            f"/Groups/{group['id']}",
            [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}],
        )
        assert joined.status in (200, 204), joined.body
        stack.drain()
    finally:
        events.unregister("before-call.dynamodb.TransactWriteItems", unique_id="poison")
    assert f"workspace:{workspace['id']}" not in access_of(stack, user["id"])
    dead = messages(stack.queue_url("FanoutDeadLetterQueue"))
    assert len(dead) == 1, "the failing message should be in the DLQ, alone"

    # The documented redrive: the DLQ's messages go back to the fan-out queue.
    sqs = clients.sqs()
    for message in dead:
        sqs.send_message(QueueUrl=stack.queue_url("FanoutQueue"), MessageBody=message["Body"])
        sqs.delete_message(
            QueueUrl=stack.queue_url("FanoutDeadLetterQueue"),
            ReceiptHandle=message["ReceiptHandle"],
        )
    stack.drain()
    assert access_of(stack, user["id"])[f"workspace:{workspace['id']}"] == "editor"
    assert consistency_violations(stack, "acme") == []

"""The fan-out's Lambda handler, as the template configures it, with the SQS event in
events/fanout_sqs_group_grant_changed.json (its ids pointed at this test's directory)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from provisioning import clients
from provisioning.access.model import GroupGrant, Level, Target, TargetKind
from provisioning.settings import get_settings
from provisioning.store.access import AccessStore
from tests.conftest import ScimClient, admin_call, load_event


@pytest.fixture
def directory(stack) -> dict[str, Any]:
    """An organization with a workspace and a two-member group whose grant is written straight
    to the table (no event), so the handler under test is the only thing that applies it."""
    status, org = admin_call(stack, "POST", "/orgs", {"id": "contoso", "name": "Contoso"})
    assert status == 201, org
    _, workspace = admin_call(stack, "POST", "/orgs/contoso/workspaces", {"name": "Sales"})
    scim = ScimClient(stack, org["token"])
    members = [scim.create_user(f"{name}@contoso.example")["id"] for name in ("ada", "bob")]
    group = scim.post(
        "/Groups", {"displayName": "Sales", "members": [{"value": m} for m in members]}
    ).json()["id"]
    store = AccessStore(clients.dynamodb(), get_settings().table_name)
    target = Target(type=TargetKind.WORKSPACE, id=workspace["id"])
    grant = GroupGrant(group_id=group, target=target, level=Level.EDITOR)
    store.commit([store.put_grant_item("contoso", grant)])
    return {"store": store, "group": group, "members": members, "target": target}


def grant_event(directory: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("fanout_sqs_group_grant_changed.json"))
    record = event["Records"][0]
    body = json.loads(record["body"])
    body["detail"].update(
        groupId=directory["group"], target=directory["target"].model_dump(mode="json")
    )
    if event_id:
        body["detail"]["eventId"] = event_id
        record["messageId"] = f"message-{event_id}"
    record["body"] = json.dumps(body)
    return event


def access_events(stack) -> list[dict[str, Any]]:
    """Access.* events written to the outbox so far."""
    table = stack.world.client("dynamodb")
    items = table.scan(TableName=get_settings().table_name)["Items"]
    return [i for i in items if i.get("detailType", {}).get("S", "").startswith("Access.")]


def test_a_grant_event_gives_every_member_the_workspace(stack, directory):
    result = stack.runtime.invoke("FanoutFunction", grant_event(directory))
    assert result == {"batchItemFailures": []}
    for member in directory["members"]:
        record = directory["store"].record("contoso", member, directory["target"])
        assert record is not None
        assert record.level is Level.EDITOR


def test_a_duplicated_message_is_applied_once(stack, directory):
    event = grant_event(directory)
    stack.runtime.invoke("FanoutFunction", event)
    written = access_events(stack)
    calls: list[str] = []
    hooks = clients.dynamodb().meta.events
    record_call = lambda model, **_: calls.append(model.name)  # noqa: E731
    hooks.register("before-call.dynamodb", record_call)
    try:
        assert stack.runtime.invoke("FanoutFunction", event) == {"batchItemFailures": []}
    finally:
        hooks.unregister("before-call.dynamodb", record_call)
    # Idempotency finds the first run's record and returns its result: nothing is recomputed.
    assert calls == ["PutItem"]
    assert access_events(stack) == written


def test_an_unreadable_message_fails_alone(stack, directory):
    event = grant_event(directory)
    broken = copy.deepcopy(event["Records"][0])
    broken["messageId"] = "broken"
    broken["body"] = "{not json"
    event["Records"].append(broken)
    result = stack.runtime.invoke("FanoutFunction", event)
    assert result == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    record = directory["store"].record("contoso", directory["members"][0], directory["target"])
    assert record is not None


def test_an_event_type_the_fanout_does_not_handle_is_acknowledged(stack, directory):
    event = grant_event(directory)
    body = json.loads(event["Records"][0]["body"])
    body["detail-type"] = "Workspace.Archived"
    event["Records"][0]["body"] = json.dumps(body)
    assert stack.runtime.invoke("FanoutFunction", event) == {"batchItemFailures": []}

"""The outbox publisher on moto's EventBridge: order, calls of ten, and no event lost when
PutEvents rejects an entry or fails outright."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.awsrequest import AWSResponse

from provisioning.events.contract import GroupMembersChanged, UserStatusChanged
from provisioning.events.publisher import OutboxPublisher
from tests.eventbus import BusTap, PutEventsCalls, outbox_insert, rejecting

BUS = "publisher-test"


def unavailable(_entries: list[dict[str, Any]]) -> tuple[AWSResponse, dict[str, Any]]:
    """PutEvents failing outright, as it does once the SDK's own retries are spent."""
    error = {"Code": "ServiceUnavailableException", "Message": "unavailable"}
    return AWSResponse("https://events", 503, {}, None), {"Error": error}


@pytest.fixture
def client(stack):
    return stack.world.client("events")


@pytest.fixture
def tap(stack) -> BusTap:
    return BusTap(stack.world.client("events"), stack.world.client("sqs"), BUS)


@pytest.fixture
def publisher(client, tap) -> OutboxPublisher:
    return OutboxPublisher(client, tap.bus_name)


def stream_batch(count: int) -> list[DynamoDBRecord]:
    """A stream batch of `count` outbox INSERTs, as the handler receives it."""
    records = [
        outbox_insert(GroupMembersChanged(org_id="contoso", group_id="g1", added=[f"u{i}"]), i)
        for i in range(count)
    ]
    return list(DynamoDBStreamEvent({"Records": records}).records)


def event_ids(records: list[DynamoDBRecord]) -> list[str]:
    return [json.loads(r.dynamodb.new_image["detail"])["eventId"] for r in records]


def sequence_numbers(records: list[DynamoDBRecord]) -> list[str]:
    return [r.dynamodb.sequence_number for r in records]


def reported(response: Any) -> list[str]:
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def test_an_event_reaches_the_bus_with_its_source_detail_type_time_and_stored_detail(
    publisher, tap
):
    change = UserStatusChanged(org_id="contoso", user_id="u1", active=False)
    batch = DynamoDBStreamEvent({"Records": [outbox_insert(change, 1)]}).records

    assert reported(publisher.publish(batch)) == []

    (envelope,) = tap.received()
    assert envelope["source"] == "scim.provisioning"
    assert envelope["detail-type"] == "User.StatusChanged"
    assert envelope["detail"] == json.loads(change.model_dump_json(by_alias=True))
    assert envelope["time"] == change.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_batch_is_put_ten_entries_per_call_in_stream_order(publisher, client):
    batch = stream_batch(25)
    calls = PutEventsCalls(client)

    assert reported(publisher.publish(batch)) == []

    assert calls.sizes == [10, 10, 5]
    sent = [json.loads(e["Detail"])["eventId"] for entries in calls.entries for e in entries]
    assert sent == event_ids(batch)


def test_a_rejected_entry_is_reported_with_every_later_record(publisher, client, stack):
    batch = stream_batch(25)
    PutEventsCalls(client, {1: rejecting(stack.world.client("events"), index=3)})

    assert reported(publisher.publish(batch)) == sequence_numbers(batch[13:])


def test_a_rejected_entry_is_published_when_lambda_retries_from_it(publisher, client, stack, tap):
    batch = stream_batch(25)
    PutEventsCalls(client, {1: rejecting(stack.world.client("events"), index=3)})
    publisher.publish(batch)

    # Lambda restarts the shard from the lowest reported sequence number.
    assert reported(publisher.publish(batch[13:])) == []

    received = [envelope["detail"]["eventId"] for envelope in tap.received()]
    assert set(received) == set(event_ids(batch))
    # Records 14 to 19 were taken in the failed call and are published again: consumers
    # dedupe by eventId.
    assert len(received) == 25 + 6


def test_a_failed_call_reports_every_record_and_stops_publishing(publisher, client, tap):
    batch = stream_batch(25)
    calls = PutEventsCalls(client, {0: unavailable})

    assert reported(publisher.publish(batch)) == sequence_numbers(batch)
    assert calls.sizes == [10]
    assert tap.received() == []


def test_a_failed_later_call_keeps_the_records_already_published(publisher, client, tap):
    batch = stream_batch(25)
    PutEventsCalls(client, {2: unavailable})

    assert reported(publisher.publish(batch)) == sequence_numbers(batch[20:])
    assert len(tap.received()) == 20

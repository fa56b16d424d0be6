"""The template's queues, event buses and rules, created in moto; events put on a bus reach the
SQS targets of the rules they match, as EventBridge delivers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from provisioning.local import LocalStack

from .events_project import write_events_project

BUS = "scim-local-directory"
ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    with LocalStack.start(write_events_project(tmp_path)) as local:
        yield local


def put_event(detail_type: str, detail: dict[str, Any], source: str = "test.directory") -> str:
    answer = boto3.client("events").put_events(
        Entries=[
            {
                "EventBusName": BUS,
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": ["urn:test:group:g1"],
                "Time": datetime(2026, 11, 29, 5, 41, 3, tzinfo=UTC),
            }
        ]
    )
    return str(answer["Entries"][0]["EventId"])


def queued(stack: LocalStack, queue: str = "Queue") -> list[str]:
    """The bodies waiting in a queue (received without being delivered to the consumer)."""
    answer = boto3.client("sqs").receive_message(
        QueueUrl=stack.queue_url(queue), MaxNumberOfMessages=10
    )
    return [message["Body"] for message in answer.get("Messages", [])]


def queue_attributes(stack: LocalStack, queue: str) -> dict[str, str]:
    answer = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue), AttributeNames=["All"]
    )
    return dict(answer["Attributes"])


def test_queue_is_created_with_the_template_attributes(stack: LocalStack) -> None:
    attributes = queue_attributes(stack, "Queue")
    assert attributes["VisibilityTimeout"] == "360"
    assert attributes["MessageRetentionPeriod"] == "1209600"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-local-DeadLetterQueue",
        "maxReceiveCount": 3,
    }


def test_queue_url_names_the_template_queue(stack: LocalStack) -> None:
    url = stack.queue_url("DeadLetterQueue")
    assert url == f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/scim-local-DeadLetterQueue"
    assert (
        boto3.client("sqs").get_queue_url(QueueName="scim-local-DeadLetterQueue")["QueueUrl"] == url
    )


def test_rule_is_created_on_its_bus_with_its_pattern_and_targets(stack: LocalStack) -> None:
    events = boto3.client("events")
    assert events.describe_event_bus(Name=BUS)["Name"] == BUS
    rule = events.describe_rule(Name="scim-local-Rule", EventBusName=BUS)
    assert json.loads(rule["EventPattern"]) == {
        "source": ["test.directory"],
        "detail-type": ["Group.Deleted", "User.Deleted"],
    }
    (target,) = events.list_targets_by_rule(Rule="scim-local-Rule", EventBusName=BUS)["Targets"]
    assert target["Arn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-local-Queue"
    assert target["DeadLetterConfig"] == {
        "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-local-DeadLetterQueue"
    }


def test_intrinsics_resolve_to_the_created_queue_bus_and_rule(stack: LocalStack) -> None:
    environment = stack.runtime.functions["ConsumerFunction"].environment
    assert environment["QUEUE_URL"] == stack.queue_url("Queue")
    assert environment["QUEUE_ARN"] == queue_attributes(stack, "Queue")["QueueArn"]
    assert environment["QUEUE_NAME"] == "scim-local-Queue"
    assert environment["BUS_NAME"] == BUS
    events = boto3.client("events")
    assert environment["BUS_ARN"] == events.describe_event_bus(Name=BUS)["Arn"]
    rule = events.describe_rule(Name="scim-local-Rule", EventBusName=BUS)
    assert environment["RULE_ARN"] == rule["Arn"]


def test_matching_event_reaches_the_queue_as_eventbridge_sends_it(stack: LocalStack) -> None:
    event_id = put_event("User.Deleted", {"orgId": "acme", "userId": "u1"})
    (body,) = queued(stack)
    # EventBridge's envelope, compact JSON, the detail an object.
    assert body == json.dumps(
        {
            "version": "0",
            "id": event_id,
            "detail-type": "User.Deleted",
            "source": "test.directory",
            "account": ACCOUNT,
            "time": "2026-11-29T05:41:03Z",
            "region": REGION,
            "resources": ["urn:test:group:g1"],
            "detail": {"orgId": "acme", "userId": "u1"},
        },
        separators=(",", ":"),
    )


def test_event_of_another_detail_type_is_not_delivered(stack: LocalStack) -> None:
    put_event("Access.Granted", {"orgId": "acme"})
    assert queued(stack) == []


def test_event_of_another_source_is_not_delivered(stack: LocalStack) -> None:
    put_event("User.Deleted", {"orgId": "acme"}, source="test.other")
    assert queued(stack) == []


def test_disabled_rule_delivers_nothing(stack: LocalStack) -> None:
    # Matches the disabled rule (source alone) but not the enabled one.
    put_event("Group.Created", {"orgId": "acme"})
    assert queued(stack) == []

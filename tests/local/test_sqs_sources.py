"""SQS event sources: what Lambda delivers from a queue, what it deletes, what it leaves for a
retry and what the queue's redrive policy moves to its dead-letter queue."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from provisioning.local import EventSourcesNotQuiescentError, LocalStack
from provisioning.local.sqs_queues import SqsQueueSource

from .events_project import batches, bodies, write_events_project

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_events_project(tmp_path)


@pytest.fixture
def stack(project: Path) -> Iterator[LocalStack]:
    with LocalStack.start(project) as local:
        yield local


def send(stack: LocalStack, body: Any, queue: str = "Queue", **options: Any) -> str:
    answer = boto3.client("sqs").send_message(
        QueueUrl=stack.queue_url(queue), MessageBody=json.dumps(body), **options
    )
    return str(answer["MessageId"])


def waiting(stack: LocalStack, queue: str) -> int:
    """Messages in a queue, visible or not."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def delivered(project: Path) -> list[Any]:
    """Every body the consumer received, in order, retries included."""
    return [body for batch in batches(project) for body in bodies(batch)]


def test_every_sqs_event_is_a_source(stack: LocalStack) -> None:
    (source,) = [s for s in stack.event_sources.sources if s.name == "ConsumerFunction.Changes"]
    assert isinstance(source, SqsQueueSource)
    assert source.queue_url == stack.queue_url("Queue")
    assert source.spec.queue_arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-local-Queue"
    assert (source.spec.batch_size, source.spec.report_batch_item_failures) == (10, True)


def test_records_have_the_shape_of_lambdas_sqs_event(stack: LocalStack, project: Path) -> None:
    message_id = send(
        stack,
        {"hello": "world"},
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    before = int(time.time() * 1000)
    stack.drain()

    ((record,),) = batches(project)
    assert list(record) == [
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfMessageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    ]
    assert record["messageId"] == message_id
    assert record["body"] == '{"hello": "world"}'
    assert list(record["attributes"]) == [
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    ]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert int(record["attributes"]["SentTimestamp"]) <= before
    assert record["messageAttributes"] == {
        "kind": {
            "stringValue": "greeting",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:scim-local-Queue"
    assert record["awsRegion"] == REGION


def test_batches_hold_at_most_batch_size_messages(stack: LocalStack, project: Path) -> None:
    for index in range(12):
        send(stack, {"n": index})
    stack.drain()
    assert sorted(len(batch) for batch in batches(project)) == [2, 10]


def test_a_successful_batch_is_deleted(stack: LocalStack, project: Path) -> None:
    send(stack, {"n": 1})
    stack.drain()
    assert waiting(stack, "Queue") == 0
    assert len(batches(project)) == 1


def test_reported_failures_are_received_again_and_the_others_are_not(
    stack: LocalStack, project: Path
) -> None:
    send(stack, {"n": 1})
    send(stack, {"n": 2, "failOnce": True})
    stack.drain()
    assert sorted(json.dumps(body) for body in delivered(project)) == [
        '{"n": 1}',
        '{"n": 2, "failOnce": true}',
        '{"n": 2, "failOnce": true}',
    ]
    assert waiting(stack, "Queue") == 0


def test_a_retried_message_counts_its_receives(stack: LocalStack, project: Path) -> None:
    send(stack, {"failOnce": True})
    stack.drain()
    counts = [batch[0]["attributes"]["ApproximateReceiveCount"] for batch in batches(project)]
    assert counts == ["1", "2"]


def test_an_unknown_reported_identifier_fails_the_whole_batch(
    stack: LocalStack, project: Path
) -> None:
    send(stack, {"n": 1})
    send(stack, {"n": 2, "reportUnknown": True})
    stack.drain()
    assert len(delivered(project)) == 4  # both messages, twice


def test_a_function_error_leaves_the_whole_batch(stack: LocalStack, project: Path) -> None:
    send(stack, {"n": 1})
    send(stack, {"n": 2, "raiseOnce": True})
    stack.drain()
    assert len(delivered(project)) == 4  # both messages, twice
    assert waiting(stack, "Queue") == 0


def test_a_message_failing_max_receive_count_times_goes_to_the_dead_letter_queue(
    stack: LocalStack, project: Path
) -> None:
    message_id = send(stack, {"failAlways": True})
    stack.drain()
    assert len(batches(project)) == 3  # the queue's maxReceiveCount
    dead = boto3.client("sqs").receive_message(QueueUrl=stack.queue_url("DeadLetterQueue"))
    assert [message["MessageId"] for message in dead["Messages"]] == [message_id]
    assert waiting(stack, "Queue") == 0
    assert stack.failed_batches == []  # the mapping never gives up: the queue redrives


def test_continuations_sent_to_its_own_queue_are_delivered_in_the_same_drain(
    stack: LocalStack, project: Path
) -> None:
    send(stack, {"continue": 3})
    stack.drain()
    assert delivered(project) == [
        {"continue": 3},
        {"continue": 2},
        {"continue": 1},
        {"continue": 0},
    ]


def test_a_function_feeding_its_own_queue_forever_does_not_settle(stack: LocalStack) -> None:
    send(stack, {"continue": 10_000})
    with pytest.raises(EventSourcesNotQuiescentError, match=r"ConsumerFunction\.Changes"):
        stack.drain(max_rounds=5)


def test_messages_no_filter_matches_are_deleted_undelivered(
    stack: LocalStack, project: Path
) -> None:
    send(stack, {"kind": "wanted"}, queue="FilteredQueue")
    send(stack, {"kind": "other"}, queue="FilteredQueue")
    stack.drain()
    received = batches(project, "scim-local-FilteredFunction")
    assert [bodies(batch) for batch in received] == [[{"kind": "wanted"}]]
    assert waiting(stack, "FilteredQueue") == 0


def test_skip_pending_leaves_queued_messages_to_be_delivered(
    stack: LocalStack, project: Path
) -> None:
    send(stack, {"n": 1})
    stack.skip_pending()
    stack.drain()
    assert delivered(project) == [{"n": 1}]


def test_stream_publisher_bus_queue_chain_settles_within_one_request(
    stack: LocalStack, project: Path
) -> None:
    outbox_item = {
        "pk": "OUTBOX",
        "sk": "event-1",
        "detailType": "Group.Deleted",
        "detail": json.dumps({"orgId": "acme", "groupId": "g1"}),
    }
    response = stack.request(
        "POST", "/items", headers={"Content-Type": "application/json"}, body=outbox_item
    )
    assert response.status == 204
    ((record,),) = batches(project)
    event = json.loads(record["body"])
    assert (event["detail-type"], event["detail"]) == (
        "Group.Deleted",
        {"orgId": "acme", "groupId": "g1"},
    )


def test_background_polling_retries_a_failed_message_after_a_short_back_off(
    stack: LocalStack, project: Path
) -> None:
    stack.serve()
    send(stack, {"failOnce": True})
    deadline = time.monotonic() + 10  # far below the queue's VisibilityTimeout of 360 s
    while len(batches(project)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(batches(project)) == 2
    stack.shutdown()
    assert waiting(stack, "Queue") == 0

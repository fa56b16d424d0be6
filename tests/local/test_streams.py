"""DynamoDB stream event sources: what Lambda would deliver, in which batches, and what it gives
up on, driven synchronously by `drain()` and by every in-process request."""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from provisioning.local import EventSourcesNotQuiescentError, LocalStack
from provisioning.local.dynamodb_streams import DynamoDBStreamSource

from .streams_project import FAILURE_QUEUE, TABLE, calls, keys, put, write_stream_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_stream_project(tmp_path)


@pytest.fixture
def stack(project: Path) -> Iterator[LocalStack]:
    with LocalStack.start(project) as local:
        yield local


def source(stack: LocalStack, name: str) -> DynamoDBStreamSource:
    (found,) = [s for s in stack.event_sources.sources if s.name == name]
    assert isinstance(found, DynamoDBStreamSource)
    return found


def stream_arn() -> str:
    table = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    return str(table["LatestStreamArn"])


def test_every_enabled_dynamodb_event_is_a_source(stack: LocalStack) -> None:
    names = {s.name for s in stack.event_sources.sources}
    assert "PurgeFunction.PurgeTasks" in names
    assert "BatchFunction.Stream" in names
    assert "DisabledFunction.Stream" not in names  # Enabled: false is not polled
    purge = source(stack, "PurgeFunction.PurgeTasks").spec
    assert purge.stream_arn == stream_arn()
    assert (purge.batch_size, purge.maximum_retry_attempts) == (10, 5)
    assert purge.bisect_batch_on_function_error
    assert purge.report_batch_item_failures


def test_records_have_the_shape_of_lambdas_dynamodb_event(stack: LocalStack, project: Path) -> None:
    before = int(time.time())
    put("shape", "a", name="first", blob=b"\x00\xff")
    boto3.client("dynamodb").update_item(
        TableName=TABLE,
        Key={"pk": {"S": "shape"}, "sk": {"S": "a"}},
        UpdateExpression="SET #n = :n",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":n": {"S": "second"}},
    )
    boto3.client("dynamodb").delete_item(
        TableName=TABLE, Key={"pk": {"S": "shape"}, "sk": {"S": "a"}}
    )
    assert stack.drain() == 1

    (batch,) = calls(project, "everything")
    insert, modify, remove = batch
    assert list(insert) == [
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    ]
    assert [r["eventName"] for r in batch] == ["INSERT", "MODIFY", "REMOVE"]
    assert {r["eventVersion"] for r in batch} == {"1.1"}
    assert {r["eventSource"] for r in batch} == {"aws:dynamodb"}
    assert {r["awsRegion"] for r in batch} == {"us-east-1"}
    assert {r["eventSourceARN"] for r in batch} == {stream_arn()}
    assert len({r["eventID"] for r in batch}) == 3

    data = insert["dynamodb"]
    assert set(data) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert isinstance(data["ApproximateCreationDateTime"], int)
    assert before <= data["ApproximateCreationDateTime"] <= time.time()
    assert data["Keys"] == {"pk": {"S": "shape"}, "sk": {"S": "a"}}
    # Binary values travel base64-encoded, as in Lambda's JSON event.
    assert data["NewImage"]["blob"] == {"B": base64.b64encode(b"\x00\xff").decode()}
    assert data["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(data["SizeBytes"], int)
    assert modify["dynamodb"]["OldImage"]["name"] == {"S": "first"}
    assert modify["dynamodb"]["NewImage"]["name"] == {"S": "second"}
    assert "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["OldImage"]["name"] == {"S": "second"}
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in batch]
    assert sequence == sorted(sequence)


def test_only_records_matching_the_filter_are_delivered(stack: LocalStack, project: Path) -> None:
    put("purge", "task-1", kind="PurgeTask")
    put("purge", "other", kind="Outbox")
    put("purge", "task-1", kind="PurgeTask", state="done")  # a MODIFY: not an INSERT
    boto3.client("dynamodb").delete_item(
        TableName=TABLE, Key={"pk": {"S": "purge"}, "sk": {"S": "task-1"}}
    )
    stack.drain()
    assert [keys(batch) for batch in calls(project, "purge")] == [["task-1"]]
    (record,) = calls(project, "purge")[0]
    assert record["eventName"] == "INSERT"


def test_no_match_means_no_invocation(stack: LocalStack, project: Path) -> None:
    put("purge", "other", kind="Outbox")
    stack.drain()
    assert calls(project, "purge") == []
    assert calls(project, "everything")  # the record was there, for a source without filter


def test_batches_hold_at_most_batch_size_records_in_stream_order(
    stack: LocalStack, project: Path
) -> None:
    for sk in "abcde":
        put("batch", sk)
    stack.drain()
    assert [keys(batch) for batch in calls(project, "batch")] == [["a", "b"], ["c", "d"], ["e"]]


def test_a_partial_batch_failure_retries_from_the_first_reported_record(
    stack: LocalStack, project: Path
) -> None:
    put("partial", "a")
    put("partial", "b", failOnce=True)
    put("partial", "c")
    stack.drain()
    assert [keys(batch) for batch in calls(project, "partial")] == [["a", "b", "c"], ["b", "c"]]
    assert stack.failed_batches == []


@pytest.mark.parametrize("identifier", ["", "no-such-sequence-number"])
def test_an_unusable_item_identifier_fails_the_whole_batch(
    stack: LocalStack, project: Path, identifier: str
) -> None:
    put("partial", "a")
    put("partial", "b", reportBadlyOnce=identifier)
    put("partial", "c")
    stack.drain()
    assert [keys(batch) for batch in calls(project, "partial")] == [
        ["a", "b", "c"],
        ["a", "b", "c"],
    ]


def test_bisection_isolates_a_poison_record_and_gives_up_on_it_alone(
    stack: LocalStack, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for sk in ("a", "b", "c", "d"):
        put("poison", sk, **({"poison": True} if sk == "c" else {}))
    with caplog.at_level(logging.WARNING, logger="provisioning.local"):
        stack.drain()

    # MaximumRetryAttempts 2: c is sent three times in all, in ever smaller batches.
    assert [keys(batch) for batch in calls(project, "poison")] == [
        ["a", "b", "c", "d"],
        ["a", "b"],
        ["c", "d"],
        ["c"],
        ["d"],
    ]
    (failure,) = stack.failed_batches
    assert failure.source == "PoisonFunction.Stream"
    assert failure.condition == "RetryAttemptsExhausted"
    assert failure.destination == FAILURE_QUEUE
    assert keys(list(failure.records)) == ["c"]
    sequence = failure.records[0]["dynamodb"]["SequenceNumber"]
    info = failure.message["DDBStreamBatchInfo"]
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequence
    assert info["batchSize"] == 1
    assert info["streamArn"] == stream_arn()
    assert failure.message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure.message["requestContext"]["approximateInvokeCount"] == 3
    assert failure.message["requestContext"]["functionArn"].endswith(
        ":function:scim-local-PoisonFunction"
    )
    assert failure.message["responseContext"]["functionError"] == "Unhandled"
    assert any(
        r.levelno == logging.WARNING and "gave up on 1 stream record" in r.getMessage()
        for r in caplog.records
    )


def test_exhausted_retries_go_to_the_failure_list_and_the_shard_moves_on(
    stack: LocalStack, project: Path
) -> None:
    for sk in "abc":
        put("stubborn", sk)
    stack.drain()
    # BatchSize 2, MaximumRetryAttempts 1, no bisection: each batch is sent twice.
    assert [keys(batch) for batch in calls(project, "stubborn")] == [
        ["a", "b"],
        ["a", "b"],
        ["c"],
        ["c"],
    ]
    assert [keys(list(f.records)) for f in stack.failed_batches] == [["a", "b"], ["c"]]
    first = stack.failed_batches[0]
    assert first.destination is None
    assert first.message["DDBStreamBatchInfo"]["batchSize"] == 2
    assert first.message["requestContext"]["approximateInvokeCount"] == 2


def test_records_older_than_the_maximum_age_are_not_sent(stack: LocalStack, project: Path) -> None:
    put("stubborn", "old")
    # MaximumRecordAgeInSeconds 60: two minutes later the record has expired unseen.
    source(stack, "StubbornFunction.Stream").wall_clock = lambda: time.time() + 120
    stack.drain()
    assert calls(project, "stubborn") == []
    (failure,) = stack.failed_batches
    assert failure.condition == "RecordAgeExceeded"
    assert failure.message["requestContext"]["approximateInvokeCount"] == 0


def test_unbounded_retries_block_the_shard_until_the_drain_gives_up(
    stack: LocalStack, project: Path
) -> None:
    put("forever", "a")
    with pytest.raises(EventSourcesNotQuiescentError, match=r"ForeverFunction\.Stream"):
        stack.drain(max_rounds=5)
    # One attempt per round, and nothing given up on: Lambda would retry for 24 hours.
    assert len(calls(project, "forever")) == 5
    assert stack.failed_batches == []


def test_a_function_that_triggers_itself_runs_until_quiescent(
    stack: LocalStack, project: Path
) -> None:
    put("chain", "hop-0000", hop=0, limit=3)
    rounds = stack.drain()
    assert rounds == 4  # the first record, then one round per item the function wrote
    assert [keys(batch) for batch in calls(project, "chain")] == [
        ["hop-0000"],
        ["hop-0001"],
        ["hop-0002"],
        ["hop-0003"],
    ]


def test_a_function_that_triggers_itself_forever_is_stopped(stack: LocalStack) -> None:
    put("chain", "hop-0000", hop=0, limit=-1)
    with pytest.raises(EventSourcesNotQuiescentError, match="after 20 rounds"):
        stack.drain(max_rounds=20)


def test_a_request_returns_after_its_stream_effects(stack: LocalStack, project: Path) -> None:
    response = stack.request(
        "POST",
        "/items",
        headers={"Content-Type": "application/json"},
        body={"pk": "purge", "sk": "task-9", "kind": "PurgeTask"},
    )
    assert response.status == 204
    assert [keys(batch) for batch in calls(project, "purge")] == [["task-9"]]


def test_drain_without_anything_new_is_quiet(stack: LocalStack) -> None:
    assert stack.drain() == 0
    put("nobody", "x")
    assert stack.drain() == 1
    assert stack.drain() == 0


@pytest.mark.http
def test_serving_polls_the_streams_in_the_background(stack: LocalStack, project: Path) -> None:
    base_url = stack.serve()
    body = json.dumps({"pk": "purge", "sk": "task-7", "kind": "PurgeTask"}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL of the served stack
        f"{base_url}/items", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        assert answer.status == 204
    deadline = time.monotonic() + 2
    while not calls(project, "purge") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [keys(batch) for batch in calls(project, "purge")] == [["task-7"]]

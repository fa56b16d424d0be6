"""DynamoDB Streams → Lambda, as an event source mapping delivers them, on moto's stream.

Each `Type: DynamoDB` event of the template becomes one `DynamoDBStreamSource`: it reads the
table's stream through the DynamoDB Streams API (its own shard iterator, from TRIM_HORIZON or
LATEST), shapes every record as Lambda's DynamoDB event does, drops the records no filter matches,
and invokes the function with batches of at most `BatchSize` records, in stream order.

A failed batch blocks the shard, as on AWS, until it succeeds or is given up on:
- a function error (exception, timeout, unserializable result) retries the whole batch, split in
  two first when BisectBatchOnFunctionError is on;
- with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`
  retries from the lowest sequence number reported; an empty, null, misnamed or unknown
  identifier fails the whole batch; an empty or null list, or no response, is a success;
- every record is sent at most 1 + MaximumRetryAttempts times (halves inherit the count of the
  batch they came from), and records older than MaximumRecordAgeInSeconds are not sent again;
  what is given up goes to the on-failure list with the message Lambda would send, and a warning
  is logged. With MaximumRetryAttempts -1 (the default) a failing batch is retried once per poll
  for as long as it fails, which a drain reports as not settling.

Not emulated: MaximumBatchingWindowInSeconds (records go at the next poll), parallel batches of
one shard (ParallelizationFactor > 1 is served in order, one of the orders AWS may produce),
Lambda's retry timing (a drain retries at once; background polling backs off up to a few seconds).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from provisioning.local.cfn import TemplateError
from provisioning.local.event_sources import (
    FailedBatch,
    RetryBackoff,
    enabled_specs,
    invoke_batch,
)
from provisioning.local.lambdas import FunctionRuntime
from provisioning.local.patterns import EventPattern, PatternError, matches_any
from provisioning.local.template import FunctionSpec, SamTemplate, StreamEventSpec

logger = logging.getLogger("provisioning.local")

# Lambda's DynamoDB event (developer guide, "Example event"): these constants, whatever the
# Streams API says (moto answers eventVersion 1.0 and a fixed region).
EVENT_VERSION = "1.1"
EVENT_SOURCE = "aws:dynamodb"
# A synchronous invocation carries at most 6 MB; Lambda cuts a batch before it gets there.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_GET_RECORDS_LIMIT = 1000
_EMPTY_EVENT_BYTES = len(b'{"Records": []}')
RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"

Record = dict[str, Any]
FailureSink = Callable[[FailedBatch], None]


def _wire_value(value: Mapping[str, Any]) -> dict[str, Any]:
    """An AttributeValue as it travels in JSON: boto3 decoded B and BS into bytes."""
    ((kind, data),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(data).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(item).decode() for item in data]}
    if kind == "M":
        return {kind: _wire_item(data)}
    if kind == "L":
        return {kind: [_wire_value(item) for item in data]}
    return {kind: data}


def _wire_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _wire_value(value) for name, value in item.items()}


def lambda_record(stream_record: Mapping[str, Any], stream_arn: str) -> Record:
    """A Streams API record (as boto3 returns it) shaped as Lambda puts it in `Records`."""
    data = stream_record["dynamodb"]
    created = data["ApproximateCreationDateTime"]
    dynamodb: dict[str, Any] = {
        # Epoch seconds, rounded down (DynamoDB Streams API reference, StreamRecord).
        "ApproximateCreationDateTime": int(
            created.timestamp() if isinstance(created, datetime) else created
        ),
    }
    for key in ("Keys", "NewImage", "OldImage"):
        if key in data:
            dynamodb[key] = _wire_item(data[key])
    dynamodb["SequenceNumber"] = data["SequenceNumber"]
    dynamodb["SizeBytes"] = data["SizeBytes"]
    dynamodb["StreamViewType"] = data["StreamViewType"]
    record: Record = {
        "eventID": stream_record["eventID"],
        "eventName": stream_record["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in stream_record:
        # Deletions by TTL carry the service's identity.
        record["userIdentity"] = dict(stream_record["userIdentity"])
    return record


def _forget_moto_iterator(stream_arn: str, iterator: str) -> None:
    """moto keeps every shard iterator it ever issued; AWS expires them after 15 minutes.

    A poll every 100 ms would otherwise grow moto's memory without bound under `make run`.
    """
    _, _, _, region, account, _ = stream_arn.split(":", 5)
    try:
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        dynamodbstreams_backends[account][region].shard_iterators.pop(iterator, None)
    except (ImportError, AttributeError, KeyError):  # pragma: no cover - another moto layout
        pass


def _moto_stream_length(stream_arn: str) -> int | None:
    """How many records moto's shard holds, read without an API call; None if unknown.

    A quiet poll then costs nothing instead of a GetRecords call (~1.5 ms) per source, which
    every in-process request pays. moto only appends to a shard (a cancelled transaction drops
    what it appended before anyone could read it), so an unchanged length means nothing new.
    """
    _, _, _, region, account, resource = stream_arn.split(":", 5)
    table_name = resource.split("/")[1]
    try:
        from moto.dynamodb.models import dynamodb_backends

        shard = dynamodb_backends[account][region].tables[table_name].stream_shard
        return None if shard is None else len(shard.items)
    except (ImportError, AttributeError, KeyError):  # pragma: no cover - another moto layout
        return None


class _ShardReader:
    """One shard iterator over a stream, as one event source mapping holds it."""

    def __init__(self, client: Any, stream_arn: str, starting_position: str) -> None:
        self._client = client
        self._stream_arn = stream_arn
        self._length_read: int | None = None
        try:
            description = client.describe_stream(StreamArn=stream_arn)["StreamDescription"]
        except ClientError as exc:
            raise TemplateError(f"stream {stream_arn} does not exist locally") from exc
        shards = description["Shards"]
        if len(shards) != 1:
            raise TemplateError(f"stream {stream_arn}: expected one shard, found {len(shards)}")
        self.shard_id: str = shards[0]["ShardId"]
        self._iterator: str = client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=self.shard_id, ShardIteratorType=starting_position
        )["ShardIterator"]

    def read(self) -> list[Mapping[str, Any]]:
        """Every record written since the last read, oldest first."""
        length = _moto_stream_length(self._stream_arn)
        if length is not None and length == self._length_read:
            return []
        self._length_read = length
        records: list[Mapping[str, Any]] = []
        while True:
            page = self._client.get_records(ShardIterator=self._iterator, Limit=_GET_RECORDS_LIMIT)
            _forget_moto_iterator(self._stream_arn, self._iterator)
            self._iterator = page["NextShardIterator"]
            records.extend(page["Records"])
            if len(page["Records"]) < _GET_RECORDS_LIMIT:
                return records


@dataclass(frozen=True)
class _Batch:
    """Records in flight and how many failed invocations they have been part of."""

    records: tuple[Record, ...]
    attempts: int = 0


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


def _iso(moment: float, *, milliseconds: bool) -> str:
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    text = text.replace("+00:00", "Z")
    return text if milliseconds else text.split(".")[0] + "Z"


class DynamoDBStreamSource:
    """One `Type: DynamoDB` event: the table's stream, filtered and batched, into a function."""

    def __init__(
        self,
        spec: StreamEventSpec,
        function: FunctionSpec,
        runtime: FunctionRuntime,
        client: Any,
        on_failure: FailureSink,
        *,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self._function = function
        self._runtime = runtime
        self._on_failure = on_failure
        self.wall_clock = wall_clock
        self._backoff = RetryBackoff(clock)
        try:
            self._patterns = [EventPattern.parse(text) for text in spec.filter_patterns]
        except PatternError as exc:
            raise TemplateError(f"{spec.name}: invalid FilterCriteria: {exc}") from exc
        self._reader = _ShardReader(client, spec.stream_arn, spec.starting_position)
        self._pending: deque[Record] = deque()
        self._in_flight: list[_Batch] = []  # a stack: bisected halves, first half on top

    @property
    def name(self) -> str:
        return self.spec.name

    def skip_pending(self) -> None:
        self._reader.read()  # read and dropped: nothing written so far is delivered
        self._pending.clear()
        self._in_flight.clear()

    def backlog(self) -> str | None:
        parts = []
        if self._in_flight:
            failing = self._in_flight[-1]
            parts.append(
                f"records {_sequence(failing.records[0])}..{_sequence(failing.records[-1])} "
                f"failed {failing.attempts} time(s)"
            )
        if self._pending:
            parts.append(f"{len(self._pending)} record(s) waiting")
        return ", ".join(parts) or None

    def poll(self, *, patient: bool) -> bool:
        fetched = self._reader.read()
        for stream_record in fetched:
            record = lambda_record(stream_record, self.spec.stream_arn)
            # Records no filter matches are dropped, and the iterator moves past them.
            if matches_any(self._patterns, record):
                self._pending.append(record)
        busy = bool(fetched)
        while self._in_flight or self._pending:
            if patient and self._backoff.waiting():
                break
            if not self._in_flight:
                self._in_flight.append(_Batch(self._next_batch()))
            busy = True
            if self._attempt():
                continue
            # A failed attempt: retried now (bounded retries in a drain) or at the next poll.
            if patient or self.spec.maximum_retry_attempts < 0:
                break
        return busy

    def _next_batch(self) -> tuple[Record, ...]:
        batch: list[Record] = []
        size = _EMPTY_EVENT_BYTES
        while self._pending and len(batch) < self.spec.batch_size:
            record_size = len(json.dumps(self._pending[0])) + 2
            if batch and size + record_size > MAX_PAYLOAD_BYTES:
                break
            batch.append(self._pending.popleft())
            size += record_size
        return tuple(batch)

    def _attempt(self) -> bool:
        """Invoke the function with the batch on top; False if it failed and waits for a retry."""
        batch = self._in_flight.pop()
        records = self._drop_expired(batch)
        if not records:
            return True
        outcome = invoke_batch(
            self._runtime,
            self.spec.function,
            records,
            [_sequence(record) for record in records],
            report_batch_item_failures=self.spec.report_batch_item_failures,
        )
        if not outcome.failed:
            self._backoff.settled()
            return True
        # The lowest sequence number that failed is the checkpoint; everything from it is retried.
        unprocessed = records[outcome.failed[0] :]
        return self._failed(
            _Batch(unprocessed, batch.attempts + 1), function_error=outcome.function_error
        )

    def _failed(self, batch: _Batch, *, function_error: bool) -> bool:
        limit = self.spec.maximum_retry_attempts
        if 0 <= limit < batch.attempts:
            self._give_up(batch, RETRY_ATTEMPTS_EXHAUSTED, function_error=function_error)
            return True
        self._backoff.failed()
        records = batch.records
        if function_error and self.spec.bisect_batch_on_function_error and len(records) > 1:
            middle = (len(records) + 1) // 2
            self._in_flight.append(_Batch(records[middle:], batch.attempts))
            self._in_flight.append(_Batch(records[:middle], batch.attempts))
        else:
            self._in_flight.append(batch)
        return False

    def _drop_expired(self, batch: _Batch) -> tuple[Record, ...]:
        """The batch without the records older than MaximumRecordAgeInSeconds (given up on)."""
        max_age = self.spec.maximum_record_age_seconds
        if max_age < 0:
            return batch.records
        now = self.wall_clock()
        expired = 0
        # Records are in stream order, so the expired ones are a prefix.
        for record in batch.records:
            if now - record["dynamodb"]["ApproximateCreationDateTime"] <= max_age:
                break
            expired += 1
        if expired:
            self._give_up(
                _Batch(batch.records[:expired], batch.attempts),
                RECORD_AGE_EXCEEDED,
                function_error=False,
            )
        return batch.records[expired:]

    def _give_up(self, batch: _Batch, condition: str, *, function_error: bool) -> None:
        self._backoff.settled()
        records = batch.records
        first, last = records[0], records[-1]
        message: dict[str, Any] = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self._function.arn,
                "condition": condition,
                "approximateInvokeCount": batch.attempts,
            },
        }
        if batch.attempts:
            response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
            if function_error:
                response["functionError"] = "Unhandled"
            message["responseContext"] = response
        message["version"] = "1.0"
        message["timestamp"] = _iso(self.wall_clock(), milliseconds=True)
        message["DDBStreamBatchInfo"] = {
            "shardId": self._reader.shard_id,
            "startSequenceNumber": _sequence(first),
            "endSequenceNumber": _sequence(last),
            "approximateArrivalOfFirstRecord": _iso(
                first["dynamodb"]["ApproximateCreationDateTime"], milliseconds=False
            ),
            "approximateArrivalOfLastRecord": _iso(
                last["dynamodb"]["ApproximateCreationDateTime"], milliseconds=False
            ),
            "batchSize": len(records),
            "streamArn": self.spec.stream_arn,
        }
        destination = self.spec.on_failure_destination
        logger.warning(
            "%s: gave up on %d stream record(s) %s..%s (%s after %d invocation(s)); %s",
            self.name,
            len(records),
            _sequence(first),
            _sequence(last),
            condition,
            batch.attempts,
            f"their metadata goes to {destination}" if destination else "no on-failure destination",
        )
        self._on_failure(
            FailedBatch(
                source=self.name,
                function=self.spec.function,
                condition=condition,
                destination=destination,
                message=message,
                records=records,
            )
        )


def dynamodb_stream_sources(
    template: SamTemplate,
    runtime: FunctionRuntime,
    client_factory: Callable[[], Any],
    on_failure: FailureSink,
) -> Sequence[DynamoDBStreamSource]:
    """One source per enabled `Type: DynamoDB` event; call once the tables exist."""
    specs = template.stream_events()
    if not specs:
        return []
    client = client_factory()
    return [
        DynamoDBStreamSource(spec, runtime.functions[spec.function], runtime, client, on_failure)
        for spec in enabled_specs(specs, "stream")
    ]

"""SQS → Lambda, as an event source mapping delivers messages, on moto's queues.

Each `Type: SQS` event of the template becomes one `SqsQueueSource`. A poll receives up to
`BatchSize` messages through the SQS API, shapes them as Lambda's SQS event does, deletes those
no filter matches (Lambda drops them for good), and invokes the function with the others:
- a success deletes the whole batch;
- with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": <messageId>}]}` deletes
  every message but the reported ones; an empty or null list, or no answer, is a success; a
  missing, misnamed or unknown identifier fails the whole batch;
- a function error (exception, timeout, unserializable result) leaves every message of the batch.

A message left in the queue is received again once it is visible again, and moto's SQS moves it
to the queue's dead-letter queue once it has been received `maxReceiveCount` times (the
RedrivePolicy is the queue's, as on AWS: the mapping itself never gives up on a message, so
`LocalStack.failed_batches` never holds SQS messages). Lambda leaves a failed message invisible for
the queue's VisibilityTimeout; a drain cannot let that time pass, so it makes failed messages
visible at once, and background polling after a short back-off (at most the VisibilityTimeout).

One poll is one batch, so a function that sends messages to its own queue (continuations) is
served in the next rounds, and one that never stops feeding itself makes a drain report it.

Not emulated: MaximumBatchingWindowInSeconds (a batch is what one poll receives), concurrent
batches (ScalingConfig), DelaySeconds and message timers beyond what a drain waits for (a drain
does not wait: delayed messages go at a later poll), FIFO ordering guarantees beyond moto's.
"""

from __future__ import annotations

import base64
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from provisioning.local.cfn import TemplateError
from provisioning.local.event_sources import RetryBackoff, enabled_specs, invoke_batch
from provisioning.local.lambdas import FunctionRuntime
from provisioning.local.patterns import EventPattern, PatternError, matches_any
from provisioning.local.template import QueueEventSpec, SamTemplate

logger = logging.getLogger("provisioning.local")

EVENT_SOURCE = "aws:sqs"
# ReceiveMessage returns at most this many messages per call.
_RECEIVE_LIMIT = 10
# The system attributes Lambda puts in a record's `attributes`, in its order, when SQS has them.
_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
)

Record = dict[str, Any]


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """A message attribute as Lambda spells it (camelCase, binary values base64-encoded)."""
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = list(value.get("StringListValues") or [])
    attribute["binaryListValues"] = [
        base64.b64encode(item).decode() for item in value.get("BinaryListValues") or []
    ]
    attribute["dataType"] = value["DataType"]
    return attribute


def lambda_record(message: Mapping[str, Any], queue_arn: str) -> Record:
    """A ReceiveMessage message (as boto3 returns it) shaped as Lambda puts it in `Records`."""
    system = message.get("Attributes") or {}
    record: Record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in _RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["md5OfBody"] = message["MD5OfBody"]
    record["eventSource"] = EVENT_SOURCE
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = queue_arn.split(":")[3]
    return record


def _filterable(record: Record) -> Record:
    """The record as Lambda filters it: a body that is a JSON object is matched as one."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return record
    return {**record, "body": body} if isinstance(body, dict) else record


class SqsQueueSource:
    """One `Type: SQS` event: a queue's messages, filtered and batched, into a function."""

    def __init__(
        self,
        spec: QueueEventSpec,
        runtime: FunctionRuntime,
        client: Any,
        queue_url: str,
        *,
        backoff: RetryBackoff | None = None,
    ) -> None:
        self.spec = spec
        self.queue_url = queue_url
        self._runtime = runtime
        self._client = client
        self._backoff = backoff or RetryBackoff()
        try:
            self._patterns = [EventPattern.parse(text) for text in spec.filter_patterns]
        except PatternError as exc:
            raise TemplateError(f"{spec.name}: invalid FilterCriteria: {exc}") from exc
        attributes = client.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        self._visibility_timeout = int(attributes["VisibilityTimeout"])

    @property
    def name(self) -> str:
        return self.spec.name

    def skip_pending(self) -> None:
        """Nothing to skip: messages in a queue are work someone sent on purpose, and a mapping
        created now would receive them too (unlike a stream read from LATEST)."""

    def backlog(self) -> str | None:
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        visible = int(attributes["ApproximateNumberOfMessages"])
        hidden = int(attributes["ApproximateNumberOfMessagesNotVisible"])
        if not visible and not hidden:
            return None
        return f"{visible} message(s) waiting, {hidden} in flight"

    def poll(self, *, patient: bool) -> bool:
        records = self._receive()
        if not records:
            return False
        matching: list[Record] = []
        dropped: list[Record] = []
        for record in records:
            kept = matches_any(self._patterns, _filterable(record))
            (matching if kept else dropped).append(record)
        self._delete(dropped)
        if not matching:
            return True
        outcome = invoke_batch(
            self._runtime,
            self.spec.function,
            matching,
            [record["messageId"] for record in matching],
            report_batch_item_failures=self.spec.report_batch_item_failures,
        )
        failed = [matching[index] for index in outcome.failed]
        self._delete([r for index, r in enumerate(matching) if index not in outcome.failed])
        if not failed:
            self._backoff.settled()
            return True
        delay = math.ceil(self._backoff.failed()) if patient else 0
        self._client.change_message_visibility_batch(
            QueueUrl=self.queue_url,
            Entries=[
                {
                    "Id": str(index),
                    "ReceiptHandle": record["receiptHandle"],
                    "VisibilityTimeout": min(delay, self._visibility_timeout),
                }
                for index, record in enumerate(failed)
            ],
        )
        return True

    def _receive(self) -> list[Record]:
        """Up to BatchSize messages, in as many ReceiveMessage calls as that takes."""
        records: list[Record] = []
        while len(records) < self.spec.batch_size:
            messages = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(_RECEIVE_LIMIT, self.spec.batch_size - len(records)),
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            ).get("Messages", [])
            records.extend(lambda_record(message, self.spec.queue_arn) for message in messages)
            if len(messages) < _RECEIVE_LIMIT:
                break
        return records

    def _delete(self, records: Sequence[Record]) -> None:
        for start in range(0, len(records), _RECEIVE_LIMIT):
            chunk = records[start : start + _RECEIVE_LIMIT]
            self._client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": record["receiptHandle"]}
                    for index, record in enumerate(chunk)
                ],
            )


def sqs_queue_sources(
    template: SamTemplate, runtime: FunctionRuntime, client_factory: Callable[[], Any]
) -> Sequence[SqsQueueSource]:
    """One source per enabled `Type: SQS` event; call once the queues exist."""
    specs = template.queue_events()
    if not specs:
        return []
    client = client_factory()
    sources = []
    for spec in enabled_specs(specs, "queue"):
        # A mapping names its queue by ARN; the SQS API wants the URL.
        try:
            url = client.get_queue_url(QueueName=spec.queue_arn.split(":")[-1])["QueueUrl"]
        except ClientError as exc:
            raise TemplateError(
                f"{spec.name}: queue {spec.queue_arn} does not exist locally"
            ) from exc
        sources.append(SqsQueueSource(spec, runtime, client, url))
    return sources

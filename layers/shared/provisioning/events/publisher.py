"""The outbox publisher: puts committed domain events from the table's stream on the event bus.

A committed event must never be lost, so publication stops at the first record EventBridge did
not take, and that record and every later one are reported as batch item failures: Lambda
restarts the shard from the lowest reported sequence number, and reporting the later ones too
keeps them from being checkpointed whatever a runtime makes of the report.

Delivery is at least once: a retried batch republishes records that were already put (those
after a failed entry in the same call, or the whole batch after a crash). Consumers dedupe by
`detail.eventId`.

Why not Powertools' `process_partial_response`: its processor calls the record handler once per
record, so a full batch (100 records) would cost 100 PutEvents calls instead of 10, and it carries
on past a failed record, publishing later events ahead of an earlier one that will be retried.
Records are therefore sent ten per call (EventBridge's limit) in stream order, and the response is
built here with Powertools' stream data class and response type.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from provisioning import clients
from provisioning.events.contract import SOURCE
from provisioning.settings import Settings, get_settings

if TYPE_CHECKING:
    # Types only: importing Powertools' batch package costs ~25 ms of cold start.
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
        DynamoDBRecord,
    )
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

# PutEvents takes at most 10 entries per call (EventBridge quotas).
MAX_ENTRIES_PER_CALL = 10

logger = Logger(child=True)


class MalformedOutboxRecordError(ValueError):
    """A stream record without its stream data: a bug, not a transient failure, so the
    invocation fails loudly and the record stays on the stream."""


@dataclass(frozen=True)
class OutboxRecord:
    """One committed event as the stream delivers it: its place in the stream and its detail
    JSON, exactly as the writer stored it."""

    sequence_number: str
    detail_type: str
    detail: str

    @classmethod
    def from_stream(cls, record: DynamoDBRecord) -> OutboxRecord:
        data = record.dynamodb
        if data is None or data.sequence_number is None:
            raise MalformedOutboxRecordError(f"stream record {record.event_id} has no dynamodb")
        image = data.new_image
        return cls(data.sequence_number, str(image["detailType"]), str(image["detail"]))

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromisoformat(json.loads(self.detail)["occurredAt"])


def bus_entry(record: OutboxRecord, event_bus_name: str) -> PutEventsRequestEntryTypeDef:
    """The PutEvents entry of one outbox record; `Time` is when the change happened, not when
    it was published."""
    return {
        "Source": SOURCE,
        "DetailType": record.detail_type,
        "Detail": record.detail,
        "EventBusName": event_bus_name,
        "Time": record.occurred_at,
    }


class OutboxPublisher:
    def __init__(self, client: EventBridgeClient, event_bus_name: str) -> None:
        if not event_bus_name:
            # PutEvents without a bus name would publish on the account's default bus.
            raise ValueError("the publisher needs an event bus name (EVENT_BUS_NAME)")
        self._client = client
        self._bus = event_bus_name

    def publish(self, records: Iterable[DynamoDBRecord]) -> PartialItemFailureResponse:
        """Publish a stream batch in order; the response names the records still to publish."""
        outbox = [OutboxRecord.from_stream(record) for record in records]
        published = self._publish_until_failure(outbox)
        logger.info("outbox published", extra={"published": published, "records": len(outbox)})
        return {
            "batchItemFailures": [
                {"itemIdentifier": record.sequence_number} for record in outbox[published:]
            ]
        }

    def _publish_until_failure(self, outbox: Sequence[OutboxRecord]) -> int:
        """How many records, from the first, EventBridge took before the first it did not."""
        for start in range(0, len(outbox), MAX_ENTRIES_PER_CALL):
            chunk = outbox[start : start + MAX_ENTRIES_PER_CALL]
            taken = self._put(chunk)
            if taken < len(chunk):
                return start + taken
        return len(outbox)

    def _put(self, chunk: Sequence[OutboxRecord]) -> int:
        """One PutEvents call; returns how many entries, from the first, it accepted."""
        try:
            response = self._client.put_events(
                Entries=[bus_entry(record, self._bus) for record in chunk]
            )
        except (BotoCoreError, ClientError):
            logger.exception("PutEvents failed", extra={"entries": len(chunk)})
            return 0
        if response["FailedEntryCount"] == 0:
            return len(chunk)
        # Entries answer the request's entries one for one; a failed one carries an ErrorCode.
        results = response["Entries"]
        first_failed = next((i for i, entry in enumerate(results) if "ErrorCode" in entry), 0)
        logger.warning(
            "PutEvents rejected entries",
            extra={
                "failed": response["FailedEntryCount"],
                "errorCode": results[first_failed].get("ErrorCode"),
                "errorMessage": results[first_failed].get("ErrorMessage"),
            },
        )
        return first_failed


def outbox_publisher(settings: Settings | None = None) -> OutboxPublisher:
    """The container's publisher, on its EventBridge client and the configured bus."""
    settings = settings or get_settings()
    return OutboxPublisher(clients.events(), settings.event_bus_name)

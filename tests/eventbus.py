"""An event bus under test: a rule sends everything the service publishes to a queue we read."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSResponse

from provisioning.events.contract import SOURCE, DomainEvent
from provisioning.store.outbox import outbox_item


class BusTap:
    """A bus (created unless it exists) whose rule forwards every `scim.provisioning` event to
    an SQS queue, so a test sees the envelopes a consumer would receive."""

    def __init__(self, events: Any, sqs: Any, bus_name: str) -> None:
        self.bus_name = bus_name
        self._sqs = sqs
        self._queue_url = sqs.create_queue(QueueName=f"{bus_name}-tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        if bus_name not in {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}:
            events.create_event_bus(Name=bus_name)
        events.put_rule(
            Name="tap",
            EventBusName=bus_name,
            EventPattern=json.dumps({"source": [SOURCE]}),
        )
        events.put_targets(
            Rule="tap", EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )

    def received(self) -> list[dict[str, Any]]:
        """Every envelope delivered so far (and not read before), oldest first."""
        envelopes = []
        while True:
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return envelopes
            for message in messages:
                envelopes.append(json.loads(message["Body"]))
                self._sqs.delete_message(
                    QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def outbox_insert(event: DomainEvent, sequence: int) -> dict[str, Any]:
    """The stream record (as Lambda delivers it) of the outbox item the store writes for
    `event`; `sequence` orders records as the stream would."""
    item = outbox_item("directory", event)["Put"]["Item"]
    return {
        "eventID": f"outbox-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "dynamodb": {
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": len(json.dumps(item)),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }


# A fake outcome of one call from its entries: botocore's (HTTP response, parsed response).
Answer = Callable[[list[dict[str, Any]]], tuple[AWSResponse, dict[str, Any]]]


class PutEventsCalls:
    """Watches a client's PutEvents calls (their entries, in order); `answers` replaces the
    n-th call's outcome (counting from 0) with a fake response."""

    def __init__(self, client: Any, answers: dict[int, Answer] | None = None) -> None:
        self.entries: list[list[dict[str, Any]]] = []
        self._answers = answers or {}
        client.meta.events.register("before-call.events.PutEvents", self)

    def __call__(self, params: dict[str, Any], **_: Any) -> Any:
        entries = json.loads(params["body"])["Entries"]
        self.entries.append(entries)
        answer = self._answers.get(len(self.entries) - 1)
        return answer(entries) if answer else None

    @property
    def sizes(self) -> list[int]:
        return [len(entries) for entries in self.entries]


def rejecting(bus: Any, index: int) -> Answer:
    """EventBridge taking every entry of a call but the one at `index`, as PutEvents reports a
    partial failure: HTTP 200, `FailedEntryCount` and an `ErrorCode` on the failed entry.
    `bus` is another client in the same account, which puts the entries that were taken."""

    def answer(entries: list[dict[str, Any]]) -> tuple[AWSResponse, dict[str, Any]]:
        taken = [entry for i, entry in enumerate(entries) if i != index]
        results = bus.put_events(Entries=taken)["Entries"]
        results.insert(index, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
        return AWSResponse("https://events", 200, {}, None), {
            "FailedEntryCount": 1,
            "Entries": results,
        }

    return answer

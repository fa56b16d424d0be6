"""An event bus under test: a rule sends everything the service publishes to a queue we read."""

from __future__ import annotations

import json
from typing import Any

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

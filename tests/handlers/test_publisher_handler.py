"""The publisher's Lambda handler, as the template configures it, with the stream event in
events/publisher_outbox_insert.json."""

from __future__ import annotations

import json

from tests.conftest import load_event
from tests.eventbus import BusTap


def test_outbox_inserts_reach_the_templates_bus_in_stream_order(stack):
    bus = stack.runtime.functions["PublisherFunction"].environment["EVENT_BUS_NAME"]
    tap = BusTap(stack.world.client("events"), stack.world.client("sqs"), bus)
    event = load_event("publisher_outbox_insert.json")

    assert stack.runtime.invoke("PublisherFunction", event) == {"batchItemFailures": []}

    stored = [r["dynamodb"]["NewImage"] for r in event["Records"]]
    assert [(e["detail-type"], e["detail"]) for e in tap.received()] == [
        (image["detailType"]["S"], json.loads(image["detail"]["S"])) for image in stored
    ]

"""The published contract cannot drift: the committed JSON Schemas are what the models generate,
and every sample event in events/ is accepted by the models it claims to follow."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    DynamoDBStreamModel,
    EventBridgeModel,
    SqsModel,
)

from provisioning.events.contract import EVENT_TYPES, SOURCE
from provisioning.events.schemas import schema_files
from provisioning.local.cfn import load_template
from provisioning.store.outbox import outbox_item
from tests.conftest import EVENTS, REPO_ROOT, load_event

SCHEMAS = EVENTS / "schemas"
# What the fan-out receives: the detail-types its rule routes to its queue.
FANOUT_TYPES = load_template(REPO_ROOT / "template.yaml")["Resources"]["AccessChangesRule"][
    "Properties"
]["EventPattern"]["detail-type"]


def sample_name(detail_type: str) -> str:
    """`Group.MembersChanged` → `group_members_changed`."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", detail_type.replace(".", "")).lower()


def test_committed_schemas_are_what_the_models_generate():
    committed = {path.name: path.read_text() for path in SCHEMAS.glob("*.json")}
    # Rewrite them with: python -m provisioning.events.schemas
    assert committed == schema_files()


@pytest.mark.parametrize("detail_type", sorted(EVENT_TYPES))
def test_eventbridge_sample_is_an_event_its_model_publishes_unchanged(detail_type):
    envelope = EventBridgeModel.model_validate(
        load_event(f"eventbridge_{sample_name(detail_type)}.json")
    )
    assert (envelope.source, envelope.detail_type) == (SOURCE, detail_type)
    event = EVENT_TYPES[detail_type].model_validate(envelope.detail)
    assert json.loads(event.model_dump_json(by_alias=True)) == envelope.detail


@pytest.mark.parametrize("detail_type", FANOUT_TYPES)
def test_fanout_sample_carries_the_eventbridge_sample_as_its_sqs_body(detail_type):
    name = sample_name(detail_type)
    (record,) = SqsModel.model_validate(load_event(f"fanout_sqs_{name}.json")).Records
    assert json.loads(record.body) == load_event(f"eventbridge_{name}.json")
    assert record.md5OfBody == hashlib.md5(record.body.encode()).hexdigest()  # noqa: S324


def test_publisher_sample_holds_the_outbox_items_the_store_writes():
    sample = load_event("publisher_outbox_insert.json")
    DynamoDBStreamModel.model_validate(sample)
    for record in sample["Records"]:
        image = record["dynamodb"]["NewImage"]
        event = EVENT_TYPES[image["detailType"]["S"]].model_validate_json(image["detail"]["S"])
        assert record["eventName"] == "INSERT"
        assert image == outbox_item("directory", event)["Put"]["Item"]

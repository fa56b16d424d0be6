"""The local stack's TransactWriteItems: all conditions first, then all writes or none."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from provisioning import clients
from provisioning.settings import get_settings


def put(sk: str, condition: str | None = None) -> dict:
    operation: dict = {
        "TableName": get_settings().table_name,
        "Item": {"pk": {"S": "T"}, "sk": {"S": sk}},
    }
    if condition:
        operation["ConditionExpression"] = condition
    return {"Put": operation}


def stream_records() -> int:
    """How many records the table's stream holds (the local stack has one shard)."""
    stream_arn = clients.dynamodb().describe_table(TableName=get_settings().table_name)["Table"][
        "LatestStreamArn"
    ]
    streams = boto3.client("dynamodbstreams")
    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    return len(streams.get_records(ShardIterator=iterator)["Records"])


def keys() -> list[str]:
    items = clients.dynamodb().query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "T"}},
    )["Items"]
    return sorted(item["sk"]["S"] for item in items)


def test_a_failed_condition_cancels_every_write_and_leaves_no_stream_record(stack):
    ddb = clients.dynamodb()
    ddb.transact_write_items(TransactItems=[put("a")])
    before = stream_records()
    with pytest.raises(ClientError) as caught:
        ddb.transact_write_items(
            TransactItems=[put("b"), put("a", "attribute_not_exists(pk)"), put("c")]
        )
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    assert keys() == ["a"]
    assert stream_records() == before


def test_successful_transaction_writes_every_item(stack):
    clients.dynamodb().transact_write_items(TransactItems=[put("a"), put("b")])
    assert keys() == ["a", "b"]


def test_two_operations_on_one_item_are_refused(stack):
    with pytest.raises(ClientError) as caught:
        clients.dynamodb().transact_write_items(TransactItems=[put("a"), put("a")])
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert keys() == []

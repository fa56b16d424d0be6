"""A throwaway project for stream event sources: one table with a stream, tiny consumers that
record what they receive, and an HTTP route that writes to the table.

Each consumer filters on its own partition key (`pk` = its role), so a test that writes `pk=batch`
items talks to the batch consumer alone.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import boto3

TABLE = "scim-local-DirectoryTable"
FAILURE_QUEUE = "arn:aws:sqs:us-east-1:123456789012:stream-failures"


def _consumer(
    logical_id: str,
    role: str,
    properties: str,
    *,
    pattern: str | None = None,
    event: str = "Stream",
) -> str:
    """A consumer function whose DynamoDB event takes `properties` (YAML lines) and one filter:
    `pattern`, by default the consumer's own partition key, or none if it is empty."""
    if pattern is None:
        pattern = '{"dynamodb": {"Keys": {"pk": {"S": ["%s"]}}}}' % role  # noqa: UP031
    if pattern:
        properties += f"FilterCriteria:\n  Filters:\n    - Pattern: '{pattern}'\n"
    return f"""\
  {logical_id}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/consumer/
      Environment:
        Variables:
          FUNCTION_ROLE: {role}
      Events:
        {event}:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DirectoryTable.StreamArn
{textwrap.indent(properties, " " * 12)}"""


PURGE_PATTERN = (
    '{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"kind": {"S": ["PurgeTask"]}}}}'
)

TEMPLATE = (
    """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    Timeout: 5
    Environment:
      Variables:
        TABLE_NAME: !Ref DirectoryTable
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  WriterFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/writer/
      Events:
        Put:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items, Method: POST}
"""
    # The trigger the purge issue declares, as it will read in template.yaml.
    + _consumer(
        "PurgeFunction",
        "purge",
        "StartingPosition: TRIM_HORIZON\nBatchSize: 10\nMaximumBatchingWindowInSeconds: 1\n"
        "MaximumRetryAttempts: 5\nBisectBatchOnFunctionError: true\n"
        "FunctionResponseTypes: [ReportBatchItemFailures]\n",
        pattern=PURGE_PATTERN,
        event="PurgeTasks",
    )
    + _consumer("BatchFunction", "batch", "StartingPosition: TRIM_HORIZON\nBatchSize: 2\n")
    + _consumer("DisabledFunction", "batch", "StartingPosition: TRIM_HORIZON\nEnabled: false\n")
    + _consumer(
        "PartialFunction",
        "partial",
        "StartingPosition: TRIM_HORIZON\nMaximumRetryAttempts: 3\n"
        "FunctionResponseTypes: [ReportBatchItemFailures]\n",
    )
    + _consumer(
        "PoisonFunction",
        "poison",
        "StartingPosition: TRIM_HORIZON\nMaximumRetryAttempts: 2\n"
        "BisectBatchOnFunctionError: true\n"
        f"DestinationConfig:\n  OnFailure:\n    Type: SQS\n    Destination: {FAILURE_QUEUE}\n",
    )
    + _consumer(
        "StubbornFunction",
        "stubborn",
        "StartingPosition: TRIM_HORIZON\nBatchSize: 2\nMaximumRetryAttempts: 1\n"
        "MaximumRecordAgeInSeconds: 60\n",
    )
    + _consumer("ForeverFunction", "forever", "StartingPosition: TRIM_HORIZON\n")
    + _consumer("ChainFunction", "chain", "StartingPosition: TRIM_HORIZON\n")
    + _consumer(
        "EverythingFunction",
        "everything",
        "StartingPosition: LATEST\nBatchSize: 1000\n",
        pattern="",
    )
    + """\
  DirectoryTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
"""
)

CONSUMER_APP = """\
import json
import os
from pathlib import Path

import boto3

DELIVERIES = {}


def _image(record):
    return record["dynamodb"].get("NewImage") or {}


def handler(event, context):
    role = os.environ["FUNCTION_ROLE"]
    with Path(__file__).with_name(f"calls-{role}.jsonl").open("a") as log:
        log.write(json.dumps(event) + "\\n")
    records = event["Records"]
    if role in ("stubborn", "forever"):
        raise RuntimeError("this consumer always fails")
    if role == "poison" and any("poison" in _image(r) for r in records):
        raise RuntimeError("a poison record")
    if role == "partial":
        failures = []
        for record in records:
            sequence = record["dynamodb"]["SequenceNumber"]
            DELIVERIES[sequence] = DELIVERIES.get(sequence, 0) + 1
            first = DELIVERIES[sequence] == 1
            if "failOnce" in _image(record) and first:
                failures.append({"itemIdentifier": sequence})
            if "reportBadlyOnce" in _image(record) and first:
                failures.append({"itemIdentifier": _image(record)["reportBadlyOnce"]["S"]})
        return {"batchItemFailures": failures}
    if role == "chain":
        table = boto3.client("dynamodb")
        for record in records:
            if record["eventName"] != "INSERT":
                continue
            image = _image(record)
            hop, limit = int(image["hop"]["N"]), int(image["limit"]["N"])
            if limit < 0 or hop < limit:
                table.put_item(
                    TableName=os.environ["TABLE_NAME"],
                    Item={
                        "pk": {"S": "chain"},
                        "sk": {"S": f"hop-{hop + 1:04d}"},
                        "hop": {"N": str(hop + 1)},
                        "limit": image["limit"],
                    },
                )
    return None
"""

WRITER_APP = """\
import json
import os

import boto3


def handler(event, context):
    item = json.loads(event["body"])
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE_NAME"],
        Item={name: {"S": value} for name, value in item.items()},
    )
    return {"statusCode": 204}
"""


def write_stream_project(root: Path) -> Path:
    """The template and its two function folders under root; returns root."""
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, source in (("consumer", CONSUMER_APP), ("writer", WRITER_APP)):
        (root / "functions" / folder).mkdir(parents=True)
        (root / "functions" / folder / "app.py").write_text(source)
    return root


def calls(root: Path, role: str) -> list[list[dict[str, Any]]]:
    """The batches a consumer received, in order (each a list of Lambda records)."""
    path = root / "functions" / "consumer" / f"calls-{role}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["Records"] for line in path.read_text().splitlines()]


def keys(batch: list[dict[str, Any]]) -> list[str]:
    """The sort keys of a batch's records."""
    return [record["dynamodb"]["Keys"]["sk"]["S"] for record in batch]


def put(pk: str, sk: str, **attributes: Any) -> None:
    """Write an item straight to the table (not through a function)."""
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}}
    for name, value in attributes.items():
        if isinstance(value, bool):
            item[name] = {"BOOL": value}
        elif isinstance(value, int):
            item[name] = {"N": str(value)}
        elif isinstance(value, bytes):
            item[name] = {"B": value}
        else:
            item[name] = {"S": value}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)

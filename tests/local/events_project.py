"""A throwaway project for the event path: a table whose stream a publisher puts on a bus, a rule
that sends some of those events to a queue with a dead-letter queue, and a consumer of that queue.

The consumer records every batch it receives and does what each message's `detail` (or the body
itself, for messages sent straight to the queue) asks: fail once, always fail, raise once, or send
continuations to its own queue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = """\
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
  PublisherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/publisher/
      Environment:
        Variables:
          EVENT_BUS_NAME: !Ref Bus
      Events:
        Outbox:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt DirectoryTable.StreamArn
            StartingPosition: TRIM_HORIZON
            MaximumRetryAttempts: -1
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"pk": {"S": ["OUTBOX"]}}}}'
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/consumer/
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          QUEUE_NAME: !GetAtt Queue.QueueName
          BUS_NAME: !Ref Bus
          BUS_ARN: !GetAtt Bus.Arn
          RULE_ARN: !GetAtt Rule.Arn
      Events:
        Changes:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 10
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
  FilteredFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/consumer/
      Events:
        Filtered:
          Type: SQS
          Properties:
            Queue: !GetAtt FilteredQueue.Arn
            FilterCriteria:
              Filters:
                - Pattern: '{"body": {"kind": ["wanted"]}}'
  Bus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub ${AWS::StackName}-directory
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      EventPattern:
        source: [test.directory]
        detail-type: [Group.Deleted, User.Deleted]
      Targets:
        - Id: Queue
          Arn: !GetAtt Queue.Arn
          RetryPolicy: {MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400}
          DeadLetterConfig: {Arn: !GetAtt DeadLetterQueue.Arn}
  DisabledRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref Bus
      State: DISABLED
      EventPattern:
        source: [test.directory]
      Targets:
        - Id: Queue
          Arn: !GetAtt Queue.Arn
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 360
      MessageRetentionPeriod: 1209600
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn
        maxReceiveCount: 3
  DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  FilteredQueue:
    Type: AWS::SQS::Queue
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

# Puts each outbox item on the bus: `detailType` and `detail` (JSON text) come from the item.
PUBLISHER_APP = """\
import os

import boto3


def handler(event, context):
    entries = [
        {
            "EventBusName": os.environ["EVENT_BUS_NAME"],
            "Source": "test.directory",
            "DetailType": record["dynamodb"]["NewImage"]["detailType"]["S"],
            "Detail": record["dynamodb"]["NewImage"]["detail"]["S"],
        }
        for record in event["Records"]
    ]
    boto3.client("events").put_events(Entries=entries)
"""

CONSUMER_APP = """\
import json
import os
from pathlib import Path

import boto3

SEEN = {}


def _instructions(record):
    body = json.loads(record["body"])
    return body.get("detail", body) if isinstance(body, dict) else {}


def handler(event, context):
    with Path(__file__).with_name(f"calls-{context.function_name}.jsonl").open("a") as log:
        log.write(json.dumps(event) + "\\n")
    failures = []
    for record in event["Records"]:
        asks = _instructions(record)
        first = record["messageId"] not in SEEN
        SEEN[record["messageId"]] = True
        if asks.get("raiseOnce") and first:
            raise RuntimeError("this batch fails once")
        if asks.get("failAlways") or (asks.get("failOnce") and first):
            failures.append({"itemIdentifier": record["messageId"]})
        if asks.get("reportUnknown") and first:
            failures.append({"itemIdentifier": "not-a-message-of-this-batch"})
        if asks.get("continue", 0) > 0:
            boto3.client("sqs").send_message(
                QueueUrl=os.environ["QUEUE_URL"],
                MessageBody=json.dumps({"continue": asks["continue"] - 1}),
            )
    return {"batchItemFailures": failures}
"""


def write_events_project(root: Path) -> Path:
    """The template and its function folders under root; returns root."""
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, source in (
        ("writer", WRITER_APP),
        ("publisher", PUBLISHER_APP),
        ("consumer", CONSUMER_APP),
    ):
        (root / "functions" / folder).mkdir(parents=True)
        (root / "functions" / folder / "app.py").write_text(source)
    return root


def batches(root: Path, function_name: str = "scim-local-ConsumerFunction") -> list[list[Any]]:
    """The batches a consumer received, in order (each a list of Lambda SQS records)."""
    path = root / "functions" / "consumer" / f"calls-{function_name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["Records"] for line in path.read_text().splitlines()]


def bodies(batch: list[dict[str, Any]]) -> list[Any]:
    """The decoded bodies of a batch's records."""
    return [json.loads(record["body"]) for record in batch]

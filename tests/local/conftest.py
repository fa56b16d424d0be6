"""A throwaway SAM template and tiny handlers under tmp_path, so the gateway is tested on its own
terms and not through the real SCIM handlers."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning.local import LocalStack

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: test
Conditions:
  IsTest: !Equals [!Ref Stage, test]
Globals:
  Function:
    Runtime: python3.13
    Handler: app.handler
    Timeout: 5
    Environment:
      Variables:
        TABLE_NAME: !Ref DirectoryTable
        STREAM_ARN: !GetAtt DirectoryTable.StreamArn
        MODE: !If [IsTest, testing, production]
        TOKEN_SECRET_PREFIX: !Sub "scim/${AWS::Region}/"
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: TokenAuthorizer
        EnableIamAuthorizer: true
        Authorizers:
          TokenAuthorizer:
            FunctionArn: !GetAtt AuthFunction.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization]
              ReauthorizeEvery: 300
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/auth/
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      MemorySize: 256
      Environment:
        Variables:
          FUNCTION_ROLE: echo
      Events:
        Collection:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items, Method: ANY}
        ById:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: ANY}
        Special:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /items/special, Method: GET}
        Part:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{id}/parts/{part}", Method: GET}
        Public:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: /public, Method: GET, Auth: {Authorizer: NONE}}
        Admin:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: "/admin/{proxy+}"
            Method: ANY
            Auth: {Authorizer: AWS_IAM}
  WriterFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Environment:
        Variables:
          FUNCTION_ROLE: writer
      Events:
        Replace:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/items/{id}", Method: PUT}
  ResultFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/results/
      Events:
        Result:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/results/{kind}", Method: GET}
  DirectoryTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: GSI1
          KeySchema:
            - {AttributeName: gsi1pk, KeyType: HASH}
          Projection: {ProjectionType: KEYS_ONLY}
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES
      TimeToLiveSpecification:
        AttributeName: expiresAt
        Enabled: true
"""

# Counts its calls and records its last event, so tests see exactly when API Gateway invoked it.
AUTH_APP = """\
import json
from pathlib import Path

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    Path(__file__).with_name("last_event.json").write_text(json.dumps(event))
    token = event["headers"].get("authorization", "")
    if token == "Bearer boom":
        raise RuntimeError("the authorizer failed")
    return {
        "isAuthorized": token.startswith("Bearer good"),
        "context": {"orgId": "acme", "calls": CALLS},
    }
"""

# Sends back what it received: the event, its environment and its context.
ECHO_APP = """\
import json
import os


def handler(event, context):
    seen = {
        "event": event,
        "env": {
            name: os.environ.get(name)
            for name in ("TABLE_NAME", "STREAM_ARN", "MODE", "FUNCTION_ROLE",
                         "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION")
        },
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(seen),
    }
"""

# One shape of Lambda result per {kind}, including the ones API Gateway has to infer.
RESULTS_APP = """\
import base64

IMPORTS = 0
IMPORTS += 1


def handler(event, context):
    kind = event["pathParameters"]["kind"]
    if kind == "bare-dict":
        return {"hello": "world"}
    if kind == "bare-str":
        return "plain words"
    if kind == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(bytes(range(256))).decode(),
            "isBase64Encoded": True,
        }
    if kind == "cookies":
        return {
            "statusCode": 204,
            "cookies": ["a=1; Path=/", "b=2; Secure"],
            "multiValueHeaders": {"X-Many": ["one", "two"]},
        }
    if kind == "malformed":
        return {"statusCode": "teapot", "body": "?"}
    if kind == "unserializable":
        return {"statusCode": 200, "body": b"bytes are not JSON"}
    if kind == "imports":
        return {"statusCode": 200, "body": str(IMPORTS)}
    raise ValueError(f"no such kind: {kind}")
"""


class FakeClock:
    """A monotonic clock the test moves by hand, for the authorizer cache's TTL."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def write_project(root: Path) -> Path:
    """Write the template and its functions under root; returns root."""
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, source in (("auth", AUTH_APP), ("echo", ECHO_APP), ("results", RESULTS_APP)):
        (root / "functions" / folder).mkdir(parents=True)
        (root / "functions" / folder / "app.py").write_text(textwrap.dedent(source))
    return root


def seen(response: Any) -> dict[str, Any]:
    """What the echo function received, from its response."""
    assert response.status == 200, response.body
    body: dict[str, Any] = response.json()
    return body


def last_authorizer_event(root: Path) -> dict[str, Any] | None:
    path = root / "functions" / "auth" / "last_event.json"
    return json.loads(path.read_text()) if path.exists() else None


GOOD = {"Authorization": "Bearer good"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stack(project: Path, clock: FakeClock) -> Iterator[LocalStack]:
    with LocalStack.start(project, clock=clock) as local:
        yield local

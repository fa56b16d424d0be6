"""AWS clients, created lazily once per container and injected everywhere else.

Tests and the local stack run under moto, which intercepts clients created while it is active, so
nothing here needs a test double; code that wants another client passes it explicitly.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Standard retry mode backs off on throttling; the API Gateway timeout (29 s) bounds the total.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=2, read_timeout=5)


@cache
def dynamodb() -> DynamoDBClient:
    """The container's DynamoDB client."""
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def secrets_manager() -> SecretsManagerClient:
    """The container's Secrets Manager client."""
    return boto3.client("secretsmanager", config=_CONFIG)


@cache
def events() -> EventBridgeClient:
    """The container's EventBridge client."""
    return boto3.client("events", config=_CONFIG)


@cache
def sqs() -> SQSClient:
    """The container's SQS client."""
    return boto3.client("sqs", config=_CONFIG)

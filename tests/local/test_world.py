"""The moto world: the table exactly as the template declares it, the environment set and then
restored, organizations created through the token service."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from provisioning.local import LocalStack

from .conftest import write_project


def test_table_is_created_from_the_template_properties(stack: LocalStack) -> None:
    client = boto3.client("dynamodb")
    table = client.describe_table(TableName="scim-local-DirectoryTable")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert {a["AttributeName"] for a in table["AttributeDefinitions"]} == {"pk", "sk", "gsi1pk"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "GSI1"
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    ttl = client.describe_time_to_live(TableName="scim-local-DirectoryTable")
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expiresAt",
    }


def test_shared_environment_is_set_while_the_stack_runs(stack: LocalStack) -> None:
    assert os.environ["TABLE_NAME"] == "scim-local-DirectoryTable"
    assert os.environ["MODE"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] == "disabled"
    assert os.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    # Per-function variables are set only while that function runs.
    assert "FUNCTION_ROLE" not in os.environ


def test_environment_is_restored_on_exit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-from-the-shell")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with LocalStack.start(write_project(tmp_path)):
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
        assert "AWS_PROFILE" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIA-from-the-shell"
    assert os.environ["AWS_PROFILE"] == "production"
    assert "TABLE_NAME" not in os.environ


def test_environment_is_restored_when_the_block_fails(tmp_path: Path) -> None:
    before = dict(os.environ)
    with pytest.raises(RuntimeError, match="inside"), LocalStack.start(write_project(tmp_path)):
        raise RuntimeError("inside")
    assert dict(os.environ) == before


def test_create_organization_stores_the_token_digest(stack: LocalStack) -> None:
    token = stack.create_organization("acme")
    assert token.startswith("scim_acme_")
    # The prefix comes from the template (`!Sub "scim/${AWS::Region}/"`).
    secret = boto3.client("secretsmanager").get_secret_value(SecretId="scim/us-east-1/acme/tokens")
    assert token not in secret["SecretString"]


def test_create_organization_with_a_known_token(stack: LocalStack) -> None:
    known = "scim_demo_" + "x" * 43
    assert stack.create_organization("demo", token=known) == known

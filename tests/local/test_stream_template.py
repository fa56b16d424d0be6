"""`Type: DynamoDB` events read from a SAM template: Lambda's defaults, and what
CreateEventSourceMapping (or the local stack) would refuse."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from provisioning.local import LocalStack
from provisioning.local.cfn import TemplateError
from provisioning.local.template import SamTemplate, StreamEventSpec

from .streams_project import PURGE_PATTERN, write_stream_project

STREAM = "arn:aws:dynamodb:us-east-1:123456789012:table/Directory/stream/2024-01-01T00:00:00.000"


def template_with(tmp_path: Path, properties: str, stream: str = STREAM) -> SamTemplate:
    """A one-function template whose DynamoDB event has `properties` (YAML lines)."""
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """\
            Transform: AWS::Serverless-2016-10-31
            Resources:
              Table:
                Type: AWS::DynamoDB::Table
                Properties:
                  KeySchema: [{AttributeName: pk, KeyType: HASH}]
                  AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
              Consumer:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/consumer/
                  Handler: app.handler
                  Events:
                    Changes:
                      Type: DynamoDB
                      Properties:
            """
        )
        + textwrap.indent(f"Stream: {stream}\n{properties}", " " * 12)
    )
    return SamTemplate.load(tmp_path / "template.yaml")


def test_lambdas_defaults_apply(tmp_path: Path) -> None:
    (spec,) = template_with(tmp_path, "StartingPosition: LATEST\n").stream_events()
    assert spec == StreamEventSpec(
        function="Consumer",
        event="Changes",
        stream_arn=STREAM,
        starting_position="LATEST",
        batch_size=100,
        maximum_batching_window_seconds=0,
        maximum_retry_attempts=-1,
        maximum_record_age_seconds=-1,
        bisect_batch_on_function_error=False,
        report_batch_item_failures=False,
        parallelization_factor=1,
        filter_patterns=(),
        on_failure_destination=None,
        enabled=True,
    )
    assert spec.name == "Consumer.Changes"


def test_every_property_is_read(tmp_path: Path) -> None:
    properties = f"""\
StartingPosition: TRIM_HORIZON
BatchSize: 10
MaximumBatchingWindowInSeconds: 1
MaximumRetryAttempts: 5
MaximumRecordAgeInSeconds: 3600
BisectBatchOnFunctionError: true
ParallelizationFactor: 2
FunctionResponseTypes: [ReportBatchItemFailures]
Enabled: "false"
DestinationConfig:
  OnFailure:
    Type: SQS
    Destination: arn:aws:sqs:us-east-1:123456789012:failed
FilterCriteria:
  Filters:
    - Pattern: '{PURGE_PATTERN}'
    - Pattern: '{{"eventName": ["REMOVE"]}}'
"""
    (spec,) = template_with(tmp_path, properties).stream_events()
    assert (spec.starting_position, spec.batch_size) == ("TRIM_HORIZON", 10)
    assert spec.maximum_batching_window_seconds == 1
    assert (spec.maximum_retry_attempts, spec.maximum_record_age_seconds) == (5, 3600)
    assert spec.bisect_batch_on_function_error
    assert spec.report_batch_item_failures
    assert spec.parallelization_factor == 2
    assert not spec.enabled
    assert spec.on_failure_destination == "arn:aws:sqs:us-east-1:123456789012:failed"
    assert spec.filter_patterns == (PURGE_PATTERN, '{"eventName": ["REMOVE"]}')


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ("BatchSize: 10\n", "StartingPosition"),
        ("StartingPosition: AT_TIMESTAMP\n", "StartingPosition"),
        ("StartingPosition: LATEST\nBatchSize: 0\n", "BatchSize"),
        ("StartingPosition: LATEST\nBatchSize: 10001\n", "BatchSize"),
        ("StartingPosition: LATEST\nMaximumRetryAttempts: 10001\n", "MaximumRetryAttempts"),
        ("StartingPosition: LATEST\nMaximumRecordAgeInSeconds: 59\n", "MaximumRecordAge"),
        ("StartingPosition: LATEST\nMaximumBatchingWindowInSeconds: 301\n", "BatchingWindow"),
        ("StartingPosition: LATEST\nFunctionResponseTypes: [Partial]\n", "FunctionResponse"),
        ("StartingPosition: LATEST\nTumblingWindowInSeconds: 60\n", "not emulated"),
        ("StartingPosition: LATEST\nFilterCriteria: {Filters: [{}]}\n", "Pattern"),
    ],
)
def test_invalid_properties_are_refused(tmp_path: Path, properties: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        template_with(tmp_path, properties).stream_events()


def test_a_stream_must_be_a_dynamodb_stream_arn(tmp_path: Path) -> None:
    template = template_with(tmp_path, "StartingPosition: LATEST\n", stream="!GetAtt Table.Arn")
    with pytest.raises(TemplateError, match="stream ARN"):
        template.stream_events()


def test_a_table_without_a_stream_has_no_stream_arn(tmp_path: Path) -> None:
    template = template_with(
        tmp_path, "StartingPosition: LATEST\n", stream="!GetAtt Table.StreamArn"
    )
    with pytest.raises(TemplateError, match=r"Table\.StreamArn"):
        template.stream_events()


def test_an_invalid_filter_pattern_stops_the_stack_from_starting(tmp_path: Path) -> None:
    project = write_stream_project(tmp_path)
    template = project / "template.yaml"
    template.write_text(template.read_text().replace('["PurgeTask"]', '[{"wildcard": "P*"}]'))
    with (
        pytest.raises(TemplateError, match=r"PurgeFunction\.PurgeTasks.*wildcard"),
        LocalStack.start(project),
    ):
        pass

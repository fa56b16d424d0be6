"""Purge worker: removes a deleted group's or user's memberships, one bounded round per task."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioning.api.purge import PurgeTask, membership_purge

logger = Logger()
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
purge = membership_purge()


def purge_round(record: DynamoDBRecord) -> None:
    task = PurgeTask.from_image(record.dynamodb.new_image if record.dynamodb else {})
    removed = purge.run(task)
    logger.info("purge round", extra={"target": task.target, "removed": removed})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=purge_round, processor=processor, context=context
    )

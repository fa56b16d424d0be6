"""Access fan-out: SQS messages of directory and grant events → workspace and folder access."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from provisioning.api.fanout import fanout_worker

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
worker = fanout_worker()


def apply(record: SQSRecord) -> None:
    worker.process(record.body)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    worker.register(context)
    return process_partial_response(
        event=event, record_handler=apply, processor=processor, context=context
    )

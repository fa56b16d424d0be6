"""The fan-out function's work: SQS messages carrying directory and grant events → access.

A message is an EventBridge event as the rule delivers it, or a follow-up this worker queued to
go on with a large group (the same event, plus `resumeAfter`: the last member done). Each message
is applied once per (event id, resume point) with Powertools Idempotency, its records kept in the
directory table; the fan-out's own writes are idempotent too, so a record expiring or a failure
after the writes costs only repeated work.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import BaseModel, ConfigDict, Field

from provisioning import clients
from provisioning.access.fanout import AccessFanout
from provisioning.access.updates import AccessWriter
from provisioning.events.contract import EVENT_TYPES
from provisioning.settings import Settings, get_settings
from provisioning.store.access import AccessStore
from provisioning.store.memberships import MembershipStore
from provisioning.store.organizations import OrganizationStore
from provisioning.store.resources import ResourceStore

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)

# EventBridge retries delivery for up to a day; a duplicate within it is recognised.
IDEMPOTENCY_WINDOW = timedelta(days=1)


class FanoutMessage(BaseModel):
    """The fields of an EventBridge envelope the fan-out reads, and its own resume point."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
    resume_after: str | None = Field(default=None, alias="resumeAfter")


class FanoutWorker:
    """Applies one queued message, at most once per event and resume point."""

    def __init__(
        self,
        fanout: AccessFanout,
        sqs: SQSClient,
        queue_url: str,
        idempotency: DynamoDBPersistenceLayer,
    ) -> None:
        self._fanout = fanout
        self._sqs = sqs
        self._queue_url = queue_url
        self._config = IdempotencyConfig(
            event_key_jmespath="[detail.eventId, resumeAfter]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=int(IDEMPOTENCY_WINDOW.total_seconds()),
        )
        self._apply_once = idempotent_function(
            self._apply,
            data_keyword_argument="message",
            persistence_store=idempotency,
            config=self._config,
        )

    def register(self, context: LambdaContext) -> None:
        """Lets Idempotency expire an in-progress record when the invocation would time out."""
        self._config.register_lambda_context(context)

    def process(self, body: str) -> None:
        """Apply one message body; raises (the message is retried) if anything fails."""
        message = FanoutMessage.model_validate_json(body)
        if message.detail_type not in EVENT_TYPES:
            logger.info("ignored event type", extra={"detailType": message.detail_type})
            return
        self._apply_once(message=message.model_dump(by_alias=True, mode="json"))

    def _apply(self, message: dict[str, Any]) -> dict[str, Any]:
        parsed = FanoutMessage.model_validate(message)
        event = EVENT_TYPES[parsed.detail_type].model_validate(parsed.detail)
        outcome = self._fanout.handle(event, parsed.resume_after)
        if outcome.resume_after is not None:
            follow_up = {**message, "resumeAfter": outcome.resume_after}
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(follow_up))
        logger.info(
            "event applied",
            extra={
                "detailType": parsed.detail_type,
                "eventId": event.event_id,
                "users": outcome.users,
                "changes": outcome.changes,
                "resumeAfter": outcome.resume_after,
            },
        )
        return {"users": outcome.users, "changes": outcome.changes}


def fanout_worker(settings: Settings | None = None) -> FanoutWorker:
    """The worker on the container's clients; idempotency records live in the directory table."""
    settings = settings or get_settings()
    client = clients.dynamodb()
    access = AccessStore(client, settings.table_name)
    fanout = AccessFanout(
        access,
        OrganizationStore(client, settings.table_name),
        ResourceStore(client, settings.table_name),
        MembershipStore(client, settings.table_name),
        AccessWriter(access, settings.table_name),
    )
    idempotency = DynamoDBPersistenceLayer(
        table_name=settings.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expiresAt",
        boto3_client=client,
    )
    return FanoutWorker(fanout, clients.sqs(), settings.fanout_queue_url, idempotency)

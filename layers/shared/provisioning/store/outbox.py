"""Outbox items: a domain event written in the same transaction as its change, so a committed
change never goes without its event. A publisher reads them from the table's stream."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from provisioning.events.contract import DomainEvent
from provisioning.store.dynamo import key, n, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Kept a week after publication for replays and audits, then expired by DynamoDB TTL.
RETENTION = timedelta(days=7)


def outbox_item(table: str, event: DomainEvent) -> TransactWriteItemTypeDef:
    expires = int((event.occurred_at + RETENTION).timestamp())
    sk = f"{event.occurred_at.isoformat()}#{event.event_id}"
    return {
        "Put": {
            "TableName": table,
            "Item": {
                **key(f"OUTBOX#{event.org_id}", sk),
                "kind": s("Outbox"),
                "detailType": s(event.detail_type),
                "schemaVersion": n(event.schema_version),
                "detail": s(event.model_dump_json(by_alias=True)),
                "expiresAt": n(expires),
            },
        }
    }

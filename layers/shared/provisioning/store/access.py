"""Group grants and users' access records in the single table.

- group grant    pk `ORG#<org>#GROUP#<group>`, sk `GRANT#<type>:<id>` (beside the group's
                 memberships); GSI2 `ORG#<org>#GRANTS#<type>:<id>` → `<group>` lists the groups
                 holding a level on a target. A removed grant (or any grant of a deleted group)
                 stays as a tombstone without `level`, expired by TTL after
                 `REVOKED_GRANT_RETENTION`: it tells the fan-out where the group may still have
                 left sources, so late or reordered events never search users' records.
                 Tombstones are on GSI2 too, under `ORG#<org>#REVOKED#<type>:<id>`, so a deleted
                 target's clean-up finds them.
- access record  pk `ORG#<org>#USER#<user>#ACCESS`, sk `<type>:<id>`: one per (user, target),
                 with every source (JSON), the user's `active` flag, the effective `level` and a
                 `version` that every writer conditions on. GSI1 `ORG#<org>#ACCESS#<type>:<id>` →
                 `<user>` is set only while the record gives a level: who has access to a target.
                 GSI2 `ORG#<org>#RECORDS#<type>:<id>` → `<user>` is set on every record, with a
                 level or not: what a deleted target's clean-up removes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from provisioning.access.model import AccessRecord, GroupGrant, Level, Source, Target
from provisioning.store.dynamo import Item, batch_get, fits_key, key, n, query_items, s, transact
from provisioning.store.memberships import group_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

GRANT_PREFIX = "GRANT#"
# Longer than any event can wait before the fan-out applies it: 14 days in the fan-out queue,
# then 14 in its dead-letter queue before a redrive (template.yaml's MessageRetentionPeriod).
REVOKED_GRANT_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class GroupReach:
    """A group's grants, and the targets of grants it held recently (tombstones)."""

    grants: list[GroupGrant]
    revoked: list[Target]


def access_pk(org_id: str, user_id: str) -> str:
    return f"ORG#{org_id}#USER#{user_id}#ACCESS"


def _grants_index_pk(org_id: str, target: Target) -> str:
    return f"ORG#{org_id}#GRANTS#{target}"


def _revoked_index_pk(org_id: str, target: Target) -> str:
    return f"ORG#{org_id}#REVOKED#{target}"


def _records_index_pk(org_id: str, target: Target) -> str:
    return f"ORG#{org_id}#RECORDS#{target}"


def _grant_item(org_id: str, grant: GroupGrant) -> Item:
    return {
        **key(group_pk(org_id, grant.group_id), f"{GRANT_PREFIX}{grant.target}"),
        "kind": s("GroupGrant"),
        "groupId": s(grant.group_id),
        "targetType": s(grant.target.type.value),
        "targetId": s(grant.target.id),
        "level": s(grant.level.value),
        "gsi2pk": s(_grants_index_pk(org_id, grant.target)),
        "gsi2sk": s(grant.group_id),
    }


def _revoked_grant_item(org_id: str, group_id: str, target: Target, now: datetime) -> Item:
    return {
        **key(group_pk(org_id, group_id), f"{GRANT_PREFIX}{target}"),
        "kind": s("RevokedGroupGrant"),
        "groupId": s(group_id),
        "targetType": s(target.type.value),
        "targetId": s(target.id),
        "expiresAt": n(int((now + REVOKED_GRANT_RETENTION).timestamp())),
        "gsi2pk": s(_revoked_index_pk(org_id, target)),
        "gsi2sk": s(group_id),
    }


def _to_target(item: Mapping[str, Any]) -> Target:
    return Target(type=item["targetType"]["S"], id=item["targetId"]["S"])


def _to_grant(item: Mapping[str, Any]) -> GroupGrant:
    return GroupGrant(
        group_id=item["groupId"]["S"],
        target=_to_target(item),
        level=Level(item["level"]["S"]),
    )


def _record_item(org_id: str, record: AccessRecord) -> Item:
    item: Item = {
        **key(access_pk(org_id, record.user_id), str(record.target)),
        "kind": s("Access"),
        "userId": s(record.user_id),
        "targetType": s(record.target.type.value),
        "targetId": s(record.target.id),
        "sources": s(
            json.dumps([x.model_dump(by_alias=True, mode="json") for x in record.sources])
        ),
        "active": {"BOOL": record.active},
        "version": n(record.version),
        "gsi2pk": s(_records_index_pk(org_id, record.target)),
        "gsi2sk": s(record.user_id),
    }
    if record.level is not None:
        item["level"] = s(record.level.value)
        item["gsi1pk"] = s(f"ORG#{org_id}#ACCESS#{record.target}")
        item["gsi1sk"] = s(record.user_id)
    return item


def _to_record(item: Mapping[str, Any]) -> AccessRecord:
    return AccessRecord(
        user_id=item["userId"]["S"],
        target=_to_target(item),
        sources=tuple(Source.model_validate(x) for x in json.loads(item["sources"]["S"])),
        active=item["active"]["BOOL"],
        version=int(item["version"]["N"]),
    )


class AccessStore:
    """Reads and writes group grants and access records. Writes are transaction items, so a
    change commits with its outbox event; every record write is conditioned on the version read."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- group grants ------------------------------------------------------------------------

    def reach_of_group(self, org_id: str, group_id: str) -> GroupReach:
        """A group's grants and recently revoked targets: one Query in the group's partition."""
        items = list(
            query_items(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :grant)",
                ExpressionAttributeValues={
                    ":pk": s(group_pk(org_id, group_id)),
                    ":grant": s(GRANT_PREFIX),
                },
                ConsistentRead=True,
            )
        )
        return GroupReach(
            grants=[_to_grant(item) for item in items if "level" in item],
            revoked=[_to_target(item) for item in items if "level" not in item],
        )

    def grants_of_group(self, org_id: str, group_id: str) -> list[GroupGrant]:
        return self.reach_of_group(org_id, group_id).grants

    def grants_on(self, org_id: str, target: Target) -> list[GroupGrant]:
        """The groups holding a level on a target: one Query on GSI2."""
        return [
            _to_grant(item)
            for item in query_items(
                self._client,
                TableName=self._table,
                IndexName="GSI2",
                KeyConditionExpression="gsi2pk = :pk",
                ExpressionAttributeValues={":pk": s(_grants_index_pk(org_id, target))},
            )
        ]

    def put_grant_item(self, org_id: str, grant: GroupGrant) -> TransactWriteItemTypeDef:
        return {"Put": {"TableName": self._table, "Item": _grant_item(org_id, grant)}}

    def revoke_grant_item(
        self, org_id: str, group_id: str, target: Target, now: datetime | None = None
    ) -> TransactWriteItemTypeDef:
        """Replace a grant by its tombstone (see the module docstring)."""
        item = _revoked_grant_item(org_id, group_id, target, now or datetime.now(UTC))
        return {"Put": {"TableName": self._table, "Item": item}}

    def groups_referring_to(self, org_id: str, target: Target, limit: int) -> list[str]:
        """Up to `limit` groups holding a grant or a tombstone on a target (two GSI2 Queries)."""
        found: list[str] = []
        for index_pk in (_grants_index_pk(org_id, target), _revoked_index_pk(org_id, target)):
            items = query_items(
                self._client,
                TableName=self._table,
                IndexName="GSI2",
                KeyConditionExpression="gsi2pk = :pk",
                ExpressionAttributeValues={":pk": s(index_pk)},
                ProjectionExpression="gsi2sk",
                Limit=limit,
            )
            found += [item["gsi2sk"]["S"] for item in islice(items, limit - len(found))]
        return found

    def delete_grant_item(
        self, org_id: str, group_id: str, target: Target
    ) -> TransactWriteItemTypeDef:
        """Remove a group's grant or tombstone on a target outright (the target is gone, so no
        source of it is left to find)."""
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(group_pk(org_id, group_id), f"{GRANT_PREFIX}{target}"),
            }
        }

    # --- access records ----------------------------------------------------------------------

    def users_with_records_on(self, org_id: str, target: Target, limit: int) -> list[str]:
        """Up to `limit` users holding a record on a target, with a level or not: one Query on
        GSI2 (eventually consistent: a record written since is found by the next call)."""
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName="GSI2",
            KeyConditionExpression="gsi2pk = :pk",
            ExpressionAttributeValues={":pk": s(_records_index_pk(org_id, target))},
            ProjectionExpression="gsi2sk",
            Limit=limit,
        )
        return [item["gsi2sk"]["S"] for item in islice(items, limit)]

    def delete_record_item(self, org_id: str, record: AccessRecord) -> TransactWriteItemTypeDef:
        return record_delete_item(self._table, org_id, record)

    def records(
        self, org_id: str, wanted: Sequence[tuple[str, Target]]
    ) -> dict[tuple[str, Target], AccessRecord]:
        """The existing records among (user, target) pairs: BatchGetItem, 100 keys a call."""
        keys = [
            key(access_pk(org_id, user_id), str(target))
            for user_id, target in dict.fromkeys(wanted)
            if fits_key(user_id)
        ]
        found = (_to_record(item) for item in batch_get(self._client, self._table, keys))
        return {(record.user_id, record.target): record for record in found}

    def records_of_user(self, org_id: str, user_id: str) -> list[AccessRecord]:
        """Every record of one user (as many as the targets it has access to): one Query."""
        if not fits_key(user_id):
            return []
        return [
            _to_record(item)
            for item in query_items(
                self._client,
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": s(access_pk(org_id, user_id))},
                ConsistentRead=True,
            )
        ]

    def record(self, org_id: str, user_id: str, target: Target) -> AccessRecord | None:
        if not fits_key(user_id):
            return None
        response = self._client.get_item(
            TableName=self._table,
            Key=key(access_pk(org_id, user_id), str(target)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _to_record(item) if item else None

    def holders(self, org_id: str, target: Target) -> list[AccessRecord]:
        """Records giving a level on a target (the sparse GSI1 holds only those)."""
        return [
            _to_record(item)
            for item in query_items(
                self._client,
                TableName=self._table,
                IndexName="GSI1",
                KeyConditionExpression="gsi1pk = :pk",
                ExpressionAttributeValues={":pk": s(f"ORG#{org_id}#ACCESS#{target}")},
            )
        ]

    def write_item(
        self,
        org_id: str,
        before: AccessRecord | None,
        after: AccessRecord,
        keep_empty: bool = True,
    ) -> TransactWriteItemTypeDef:
        """Write `after` if the record is still as read (`before`; None: it did not exist).

        A record left without sources stays, without level, so that its version keeps growing:
        deleted and re-created at version 1, a writer holding the old version 1 would pass its
        condition (ABA). Only a deleted user's records go (`keep_empty=False`): none is ever
        created again for it."""
        condition: Any = (
            {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": n(before.version)},
            }
            if before is not None
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        if not after.sources and not keep_empty:
            delete: Any = {
                "TableName": self._table,
                "Key": key(access_pk(org_id, after.user_id), str(after.target)),
                **condition,
            }
            return {"Delete": delete}
        stored = after.model_copy(update={"version": (before.version if before else 0) + 1})
        put: Any = {"TableName": self._table, "Item": _record_item(org_id, stored), **condition}
        return {"Put": put}

    def commit(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        """One transaction; a record changed since it was read raises StaleVersionError."""
        transact(self._client, items)


def record_delete_item(
    table_name: str, org_id: str, record: AccessRecord
) -> TransactWriteItemTypeDef:
    """Remove a record whatever its sources, if it is still as read."""
    delete: Any = {
        "TableName": table_name,
        "Key": key(access_pk(org_id, record.user_id), str(record.target)),
        "ConditionExpression": "version = :read",
        "ExpressionAttributeValues": {":read": n(record.version)},
    }
    return {"Delete": delete}

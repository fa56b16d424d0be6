"""Group memberships: one item per (group, member), so a group of 100,000 members never meets the
400 KB item limit and adding a member writes one item.

- membership  pk `ORG#<org>#GROUP#<group>`, sk `MEMBER#<user>`; GSI1 `ORG#<org>#USER#<user>#GROUPS`
              → `<group>` answers "which groups is this user in" with one Query.
- purge task  pk `TASK#<org>`, sk `PURGE#<kind>#<id>`: memberships of a deleted group or user still
              to remove; a stream-triggered worker removes them in bounded batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioning.store.dynamo import (
    MAX_TRANSACTION_ITEMS,
    batch_get,
    fits_key,
    in_chunks,
    key,
    n,
    query_items,
    s,
    transact,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

TransactItems = list["TransactWriteItemTypeDef"]
# Builds the items that go with one batch of member changes (its event, a version bump...).
BatchExtras = Callable[[list[str], list[str], bool], TransactItems]


def group_pk(org_id: str, group_id: str) -> str:
    return f"ORG#{org_id}#GROUP#{group_id}"


def user_groups_pk(org_id: str, user_id: str) -> str:
    return f"ORG#{org_id}#USER#{user_id}#GROUPS"


@dataclass(frozen=True)
class Membership:
    group_id: str
    user_id: str


class MembershipStore:
    """Reads and writes memberships; writes go in transactions of at most 100 items."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- reads -------------------------------------------------------------------------------

    def members(self, org_id: str, group_id: str, page_size: int | None = None) -> Iterator[str]:
        """The group's member ids in id order, read page by page: DynamoDB's own 1 MB pages
        (about 10,000 memberships each) unless `page_size` bounds them further."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
            "ExpressionAttributeValues": {
                ":pk": s(group_pk(org_id, group_id)),
                ":member": s("MEMBER#"),
            },
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        if page_size is not None:
            arguments["Limit"] = page_size
        for item in query_items(self._client, **arguments):
            yield item["sk"]["S"].removeprefix("MEMBER#")

    def members_after(self, org_id: str, group_id: str, after: str | None, limit: int) -> list[str]:
        """Up to `limit` member ids following `after` in id order: one page, resumable from its
        last id (a fan-out over a large group works through it chunk by chunk)."""
        pk = group_pk(org_id, group_id)
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :member)",
            "ExpressionAttributeValues": {":pk": s(pk), ":member": s("MEMBER#")},
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after is not None:
            arguments["ExclusiveStartKey"] = key(pk, f"MEMBER#{after}")
        response = self._client.query(**arguments)
        return [item["sk"]["S"].removeprefix("MEMBER#") for item in response.get("Items", [])]

    def existing_members(self, org_id: str, group_id: str, user_ids: Sequence[str]) -> set[str]:
        """Which of `user_ids` are members: BatchGetItem on their membership keys."""
        pk = group_pk(org_id, group_id)
        keys = [key(pk, f"MEMBER#{u}") for u in dict.fromkeys(user_ids) if fits_key(u)]
        found = batch_get(self._client, self._table, keys, "sk")
        return {item["sk"]["S"].removeprefix("MEMBER#") for item in found}

    def groups_of(self, org_id: str, user_id: str) -> list[str]:
        """The ids of the groups the user is a direct member of: Query on GSI1."""
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": s(user_groups_pk(org_id, user_id))},
        )
        return [item["gsi1sk"]["S"] for item in items]

    # --- writes ------------------------------------------------------------------------------

    def add_item(self, org_id: str, group_id: str, user_id: str) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **key(group_pk(org_id, group_id), f"MEMBER#{user_id}"),
                    "kind": s("Membership"),
                    "gsi1pk": s(user_groups_pk(org_id, user_id)),
                    "gsi1sk": s(group_id),
                },
            }
        }

    def remove_item(self, org_id: str, group_id: str, user_id: str) -> TransactWriteItemTypeDef:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(group_pk(org_id, group_id), f"MEMBER#{user_id}"),
            }
        }

    def apply(
        self,
        org_id: str,
        group_id: str,
        added: Sequence[str],
        removed: Sequence[str],
        member_check: Callable[[str], TransactWriteItemTypeDef],
        extras: BatchExtras,
        reserved: int,
    ) -> None:
        """Write the changes in as few transactions as fit. Each added member comes with
        `member_check(user_id)` (it must still exist), each batch with `extras(added, removed,
        first)`, which may hold up to `reserved` items. The first transaction carries the
        caller's conditions, so when it fails nothing at all was written."""
        budget = MAX_TRANSACTION_ITEMS - reserved
        changes = [(user_id, True) for user_id in added] + [(user_id, False) for user_id in removed]
        batches: list[list[tuple[str, bool]]] = [[]]
        used = 0
        for user_id, is_add in changes:
            cost = 2 if is_add else 1
            if used + cost > budget:
                batches.append([])
                used = 0
            batches[-1].append((user_id, is_add))
            used += cost
        for index, batch in enumerate(batches):
            batch_added = [user_id for user_id, is_add in batch if is_add]
            batch_removed = [user_id for user_id, is_add in batch if not is_add]
            items: TransactItems = []
            for user_id in batch_added:
                items += [self.add_item(org_id, group_id, user_id), member_check(user_id)]
            items += [self.remove_item(org_id, group_id, user_id) for user_id in batch_removed]
            transact(self._client, [*items, *extras(batch_added, batch_removed, index == 0)])

    def purge_task_item(
        self, org_id: str, target: str, target_id: str, round_number: int = 0
    ) -> TransactWriteItemTypeDef:
        """A task for the purge worker: remove the memberships of a deleted group or user."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **key(f"TASK#{org_id}", f"PURGE#{target}#{target_id}#{round_number:06d}"),
                    "kind": s("PurgeTask"),
                    "orgId": s(org_id),
                    "target": s(target),
                    "targetId": s(target_id),
                    "round": n(round_number),
                },
            }
        }

    def task_done_item(
        self, org_id: str, target: str, target_id: str, round_number: int
    ) -> TransactWriteItemTypeDef:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(f"TASK#{org_id}", f"PURGE#{target}#{target_id}#{round_number:06d}"),
            }
        }

    def remove_many(
        self,
        org_id: str,
        memberships: Sequence[Membership],
        extras: Callable[[list[Membership]], TransactItems],
        reserved: int,
    ) -> None:
        """Delete memberships in transactions, each with `extras(batch)` (its events)."""
        for batch in in_chunks(memberships, MAX_TRANSACTION_ITEMS - reserved):
            chunk = list(batch)
            items = [self.remove_item(org_id, m.group_id, m.user_id) for m in chunk]
            transact(self._client, [*items, *extras(chunk)])

    def memberships_of_user(self, org_id: str, user_id: str, limit: int) -> list[Membership]:
        """Up to `limit` of a user's memberships (a bounded batch for deletion)."""
        response = self._client.query(
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk",
            ExpressionAttributeValues={":pk": s(user_groups_pk(org_id, user_id))},
            Limit=limit,
        )
        return [Membership(item["gsi1sk"]["S"], user_id) for item in response.get("Items", [])]

    def memberships_of_group(self, org_id: str, group_id: str, limit: int) -> list[Membership]:
        """Up to `limit` of a group's memberships (a bounded batch for deletion)."""
        return [
            Membership(group_id, user_id)
            for _, user_id in zip(range(limit), self.members(org_id, group_id, limit), strict=False)
        ]

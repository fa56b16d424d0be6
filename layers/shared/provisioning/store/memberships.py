"""Group memberships: one item per (group, member), so a group of 100,000 members never meets the
400 KB item limit and adding a member writes one item.

- membership  pk `ORG#<org>#GROUP#<group>`, sk `MEMBER#<user>`; GSI1 `ORG#<org>#USER#<user>#GROUPS`
              → `<group>` answers "which groups is this user in" with one Query.
- purge task  pk `TASK#<org>`, sk `PURGE#<kind>#<id>`: memberships of a deleted group or user still
              to remove; a stream-triggered worker removes them in bounded batches.
- pending     pk `ORG#<org>#GROUP#<group>#PENDING`: a member change too large for one transaction.
              sk `MARKER` (change id, next batch, batch count) commits with the first batch, so the
              change is then decided; sk `BATCH#<change>#<n>` holds each later batch, written
              before the first transaction. Each later transaction applies one batch, deletes it
              and advances the marker (conditioned on the change id and the batch number, so a
              continuation run twice never applies a batch twice); the last one deletes the
              marker. While a marker exists, every other member write and the group's deletion
              fail their guard and finish the pending change first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioning.store.dynamo import (
    MAX_TRANSACTION_ITEMS,
    MissingReferenceError,
    StaleVersionError,
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
# Which of the given user ids still name users (a continuation drops those deleted since).
ExistingUsers = Callable[[list[str]], set[str]]

# Items of every member transaction besides the members and the caller's extras: the pending
# marker (its guard, its creation or its advance) and a later batch's own deletion.
PENDING_ITEMS = 2
_MARKER = "MARKER"
# A continuation batch whose user checks keep failing (users deleted meanwhile) is retried this
# often, each time without the users that are gone.
_BATCH_ATTEMPTS = 8


def group_pk(org_id: str, group_id: str) -> str:
    return f"ORG#{org_id}#GROUP#{group_id}"


def user_groups_pk(org_id: str, user_id: str) -> str:
    return f"ORG#{org_id}#USER#{user_id}#GROUPS"


def pending_pk(org_id: str, group_id: str) -> str:
    return f"ORG#{org_id}#GROUP#{group_id}#PENDING"


def _batch_sk(change_id: str, index: int) -> str:
    return f"BATCH#{change_id}#{index:06d}"


@dataclass(frozen=True)
class Membership:
    group_id: str
    user_id: str


@dataclass(frozen=True)
class MemberBatch:
    """The members one transaction adds and removes."""

    added: list[str]
    removed: list[str]

    @property
    def cost(self) -> int:
        """Transaction items: a membership and its user's existence check per added member."""
        return 2 * len(self.added) + len(self.removed)


@dataclass(frozen=True)
class PendingChange:
    """A member change whose first batch committed and whose batches from `next_batch` on are
    still to apply."""

    change_id: str
    next_batch: int
    batches: int


def plan_batches(added: Sequence[str], removed: Sequence[str], budget: int) -> list[MemberBatch]:
    """Split member changes into batches of at most `budget` transaction items each (at least
    one batch, possibly empty)."""
    batches: list[MemberBatch] = [MemberBatch([], [])]
    used = 0
    for user_id, is_add in [(u, True) for u in added] + [(u, False) for u in removed]:
        cost = 2 if is_add else 1
        if used + cost > budget:
            batches.append(MemberBatch([], []))
            used = 0
        (batches[-1].added if is_add else batches[-1].removed).append(user_id)
        used += cost
    return batches


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
        existing_users: ExistingUsers,
        guarded: bool = True,
    ) -> None:
        """Write the changes all or nothing. Each added member comes with `member_check(user_id)`
        (it must still exist), each batch with `extras(added, removed, first)`, which may hold up
        to `reserved` items; the first transaction carries the caller's conditions, so when it
        fails nothing at all was written. A change that needs several transactions commits a
        pending marker with its first one and is then finished here, or, if this request dies
        midway, by the next member write or deletion of the group (`finish`). `guarded=False`
        only for a group created in the same transaction, which no marker can name yet.

        Raises StaleVersionError when the first transaction lost (the group changed, or another
        change is pending: `finish` it and compute again), MissingReferenceError when a new
        member is no longer a user (nothing written)."""
        batches = plan_batches(added, removed, MAX_TRANSACTION_ITEMS - reserved - PENDING_ITEMS)
        first = batches[0]
        items = [
            *self._batch_items(org_id, group_id, first, member_check),
            *extras(first.added, first.removed, True),
        ]
        if len(batches) == 1:
            guard = [self._no_pending(org_id, group_id)] if guarded else []
            transact(self._client, [*items, *guard])
            return
        change = PendingChange(uuid.uuid4().hex, 1, len(batches))
        later = dict(enumerate(batches))
        del later[0]
        self._save_batches(org_id, group_id, change.change_id, later)
        try:
            transact(self._client, [*items, self._marker_put(org_id, group_id, change)])
        except BaseException:
            # An error may still hide a commit (a timeout after DynamoDB applied it): the marker
            # tells. Without it nothing was written, and the stored batches name nothing.
            decided = self.pending(org_id, group_id)
            if decided is None or decided.change_id != change.change_id:
                self._discard_batches(org_id, group_id, change.change_id, sorted(later))
                raise
        self._continue(org_id, group_id, change, later, member_check, extras, existing_users)

    def pending(self, org_id: str, group_id: str) -> PendingChange | None:
        """The group's pending member change, if one is unfinished: GetItem on its marker."""
        found = self._client.get_item(
            TableName=self._table,
            Key=key(pending_pk(org_id, group_id), _MARKER),
            ConsistentRead=True,
        ).get("Item")
        if found is None:
            return None
        return PendingChange(
            found["changeId"]["S"], int(found["next"]["N"]), int(found["batches"]["N"])
        )

    def finish(
        self,
        org_id: str,
        group_id: str,
        member_check: Callable[[str], TransactWriteItemTypeDef],
        extras: BatchExtras,
        existing_users: ExistingUsers,
    ) -> None:
        """Apply what is left of the group's pending member change, if any (idempotent: a batch
        already applied by another run is never applied again)."""
        change = self.pending(org_id, group_id)
        if change is None:
            return
        items = query_items(
            self._client,
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :batch)",
            ExpressionAttributeValues={
                ":pk": s(pending_pk(org_id, group_id)),
                ":batch": s(f"BATCH#{change.change_id}#"),
            },
            ConsistentRead=True,
        )
        later = {
            int(item["sk"]["S"].rsplit("#", 1)[1]): MemberBatch(
                [v["S"] for v in item["added"]["L"]], [v["S"] for v in item["removed"]["L"]]
            )
            for item in items
        }
        self._continue(org_id, group_id, change, later, member_check, extras, existing_users)

    def pending_guard(self, org_id: str, group_id: str) -> TransactWriteItemTypeDef:
        """An item that fails its transaction (as a StaleVersionError) while the group has a
        pending member change: a group deletion carries it, and finishes the change first."""
        return self._no_pending(org_id, group_id)

    def _continue(
        self,
        org_id: str,
        group_id: str,
        change: PendingChange,
        later: dict[int, MemberBatch],
        member_check: Callable[[str], TransactWriteItemTypeDef],
        extras: BatchExtras,
        existing_users: ExistingUsers,
    ) -> None:
        for index in range(change.next_batch, change.batches):
            batch = later.get(index)
            if batch is None:
                # Read after the marker: another run applied this batch (deleting its item) in
                # between, and goes on from there.
                return
            last = index == change.batches - 1
            marker = self._marker_advance(org_id, group_id, change.change_id, index, last)
            done = self._delete_item(
                pending_pk(org_id, group_id), _batch_sk(change.change_id, index)
            )
            for _attempt in range(_BATCH_ATTEMPTS):
                items = self._batch_items(org_id, group_id, batch, member_check)
                if batch.added or batch.removed:
                    items += extras(batch.added, batch.removed, False)
                try:
                    transact(self._client, [*items, done, marker])
                    break
                except MissingReferenceError:
                    # Users deleted since the change was decided are no members to add.
                    kept = existing_users(batch.added)
                    batch = MemberBatch([u for u in batch.added if u in kept], batch.removed)
                except StaleVersionError:
                    return  # another run applied this batch and goes on from there
            else:
                raise RuntimeError("a pending member batch kept failing its user checks")

    def _batch_items(
        self,
        org_id: str,
        group_id: str,
        batch: MemberBatch,
        member_check: Callable[[str], TransactWriteItemTypeDef],
    ) -> TransactItems:
        items: TransactItems = []
        for user_id in batch.added:
            items += [self.add_item(org_id, group_id, user_id), member_check(user_id)]
        items += [self.remove_item(org_id, group_id, user_id) for user_id in batch.removed]
        return items

    def _no_pending(self, org_id: str, group_id: str) -> TransactWriteItemTypeDef:
        # Deleting an absent item changes nothing; the condition fails only if a marker exists.
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(pending_pk(org_id, group_id), _MARKER),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _marker_put(
        self, org_id: str, group_id: str, change: PendingChange
    ) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **key(pending_pk(org_id, group_id), _MARKER),
                    "kind": s("PendingMemberChange"),
                    "changeId": s(change.change_id),
                    "next": n(change.next_batch),
                    "batches": n(change.batches),
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _marker_advance(
        self, org_id: str, group_id: str, change_id: str, index: int, last: bool
    ) -> TransactWriteItemTypeDef:
        """Batch `index` of change `change_id` is applied: the marker moves on (or goes, after
        the last batch), only if it still names that change at that batch."""
        condition = "changeId = :change AND #next = :index"
        names = {"#next": "next"}
        values = {":change": s(change_id), ":index": n(index)}
        marker = key(pending_pk(org_id, group_id), _MARKER)
        if last:
            return {
                "Delete": {
                    "TableName": self._table,
                    "Key": marker,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            }
        return {
            "Update": {
                "TableName": self._table,
                "Key": marker,
                "UpdateExpression": "SET #next = :following",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {**values, ":following": n(index + 1)},
            }
        }

    def _delete_item(self, pk: str, sk: str) -> TransactWriteItemTypeDef:
        return {"Delete": {"TableName": self._table, "Key": key(pk, sk)}}

    def _save_batches(
        self, org_id: str, group_id: str, change_id: str, batches: dict[int, MemberBatch]
    ) -> None:
        """The later batches of a change, stored before its first transaction (unreferenced
        until that commits; discarded if it fails). Transactions of 100 Puts, not BatchWriteItem,
        which the functions are not granted."""
        pk = pending_pk(org_id, group_id)
        puts: TransactItems = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        **key(pk, _batch_sk(change_id, index)),
                        "kind": s("PendingMemberBatch"),
                        "added": {"L": [s(u) for u in batch.added]},
                        "removed": {"L": [s(u) for u in batch.removed]},
                    },
                }
            }
            for index, batch in batches.items()
        ]
        for chunk in in_chunks(puts, MAX_TRANSACTION_ITEMS):
            transact(self._client, chunk)

    def _discard_batches(
        self, org_id: str, group_id: str, change_id: str, indexes: Sequence[int]
    ) -> None:
        pk = pending_pk(org_id, group_id)
        deletes = [self._delete_item(pk, _batch_sk(change_id, i)) for i in indexes]
        for chunk in in_chunks(deletes, MAX_TRANSACTION_ITEMS):
            transact(self._client, chunk)

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

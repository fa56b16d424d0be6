"""The consistency check's reads and repairs: the items of one organization as stored, raw
enough to tell a derived attribute (an index key, an effective level) that disagrees with what
it derives from, and conditional transaction items that put an item back in line only while
what the repair was decided on still holds.

Reads are Query (pages of one partition or one index partition, resumable from DynamoDB's
`LastEvaluatedKey`) and strongly consistent BatchGetItem (whether referenced items exist);
never Scan. The item layout is the other store modules' (see their docstrings); this module
reuses their key builders so the two cannot drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from provisioning.access.model import (
    AccessRecord,
    Folder,
    FolderRevocation,
    GroupGrant,
    Level,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.store.access import (
    GRANT_PREFIX,
    _grants_index_pk,
    _record_item,
    _records_index_pk,
    _revoked_index_pk,
    _to_record,
    _to_target,
    access_pk,
    record_delete_item,
)
from provisioning.store.dynamo import Item, batch_get, fits_key, key, n, org_pk, s, transact
from provisioning.store.memberships import group_pk, user_groups_pk
from provisioning.store.organizations import (
    FOLDER_PREFIX,
    ORGANIZATION_SK,
    WORKSPACE_PREFIX,
    _to_folder,
    _to_settings,
    _to_workspace,
    folder_sk,
    workspace_sk,
)
from provisioning.store.resources import (
    _INDEXES,
    StoredResource,
    UniqueValue,
    _guard_sk,
    _index_pk,
    _to_resource,
    resource_sk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Where a walk goes on: DynamoDB's LastEvaluatedKey as JSON (None: from the start).
Position = dict[str, Any] | None

_BATCH_KEYS = 100
_BATCH_ATTEMPTS = 8
_PURGE_PREFIX = "PURGE#"
# The attributes of an item that other attributes or its key determine (what a repair rewrites).
_RECORD_DERIVED = ("level", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "userId")
_MEMBERSHIP_DERIVED = ("kind", "gsi1pk", "gsi1sk")


@dataclass(frozen=True)
class Guard:
    """A uniqueness guard as stored: which value of which attribute, and who claims it."""

    sk: str
    kind: str
    attribute: str
    key: str
    owner_id: str


@dataclass(frozen=True)
class StoredItem:
    """A resource as stored, with the index attributes its item carries."""

    resource: StoredResource
    indexes: dict[str, str]


@dataclass(frozen=True)
class Member:
    """A membership item as stored: its user, and whether its index attributes are the ones
    the membership store writes."""

    group_id: str
    user_id: str
    consistent: bool


@dataclass(frozen=True)
class StoredGrant:
    """A group grant (or its tombstone, without level) as stored."""

    group_id: str
    target: Target
    level: Level | None
    consistent: bool


@dataclass(frozen=True)
class StoredRecord:
    """An access record as stored: the record, the level its item carries (which readers of the
    index trust) and whether its derived attributes are the ones its sources give."""

    record: AccessRecord
    stored_level: Level | None
    consistent: bool


@dataclass
class Targets:
    """An organization's workspaces and folders."""

    workspaces: dict[str, Workspace] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)

    def alive(self) -> frozenset[Target]:
        return frozenset(
            [
                *(Target(type=TargetKind.WORKSPACE, id=i) for i in self.workspaces),
                *(Target(type=TargetKind.FOLDER, id=i) for i in self.folders),
            ]
        )


ItemKey = dict[str, str]


def _item_key(pk: str, sk: str) -> ItemKey:
    return {"pk": pk, "sk": sk}


def resource_key(org_id: str, kind: str, resource_id: str) -> ItemKey:
    return _item_key(org_pk(org_id), resource_sk(kind, resource_id))


def guard_key(org_id: str, kind: str, value: UniqueValue) -> ItemKey:
    return _item_key(org_pk(org_id), _guard_sk(kind, value))


def counter_key(org_id: str, kind: str) -> ItemKey:
    return _item_key(org_pk(org_id), f"COUNT#{kind}")


def membership_key(org_id: str, group_id: str, user_id: str) -> ItemKey:
    return _item_key(group_pk(org_id, group_id), f"MEMBER#{user_id}")


def grant_key(org_id: str, group_id: str, target: Target) -> ItemKey:
    return _item_key(group_pk(org_id, group_id), f"{GRANT_PREFIX}{target}")


def record_key(org_id: str, user_id: str, target: Target) -> ItemKey:
    return _item_key(access_pk(org_id, user_id), str(target))


def target_key(org_id: str, target: Target) -> ItemKey:
    sk = workspace_sk(target.id) if target.type is TargetKind.WORKSPACE else folder_sk(target.id)
    return _item_key(org_pk(org_id), sk)


def unique_index_attributes(
    org_id: str, kind: str, unique: Sequence[UniqueValue | None]
) -> dict[str, str]:
    """The index attributes a resource item carries for its unique values (the resource store's
    layout: the n-th unique attribute on the n-th GSI)."""
    attributes: dict[str, str] = {}
    for position, value in enumerate(unique):
        if value and position < len(_INDEXES):
            _, pk_name, sk_name = _INDEXES[position]
            attributes[pk_name] = _index_pk(org_id, kind, position)
            attributes[sk_name] = value.key
    return attributes


class ConsistencyStore:
    """Raw reads of one organization's items and the conditional items that repair them."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- organization partition --------------------------------------------------------------

    def organization_exists(self, org_id: str) -> bool:
        return bool(self._query_all(org_pk(org_id), sk_equals=ORGANIZATION_SK))

    def settings_revocation(self, org_id: str) -> FolderRevocation:
        items = self._query_all(org_pk(org_id), sk_equals=ORGANIZATION_SK)
        return _to_settings(items[0]).folder_revocation if items else FolderRevocation.AUTOMATIC

    def guards(self, org_id: str, kind: str, after: str | None, limit: int) -> list[Guard]:
        """Up to `limit` guards of a kind's values, in key order after the sort key `after`."""
        items = self._page(org_pk(org_id), f"UNIQUE#{kind}#", after, limit)
        guards = []
        for item in items:
            _, _, attribute, value = item["sk"]["S"].split("#", 3)
            guards.append(Guard(item["sk"]["S"], kind, attribute, value, item["ownerId"]["S"]))
        return guards

    def resources(
        self, org_id: str, kind: str, after_id: str | None, limit: int
    ) -> list[StoredItem]:
        """Up to `limit` resources of a kind in id order after `after_id`."""
        prefix = f"{kind}#"
        after = prefix + after_id if after_id is not None else None
        return [_stored_item(item) for item in self._page(org_pk(org_id), prefix, after, limit)]

    def resource_ids(self, org_id: str, kind: str, after_id: str | None, limit: int) -> list[str]:
        prefix = f"{kind}#"
        after = prefix + after_id if after_id is not None else None
        items = self._page(org_pk(org_id), prefix, after, limit, projection="sk")
        return [item["sk"]["S"].removeprefix(prefix) for item in items]

    def count(self, org_id: str, kind: str, after: str | None) -> tuple[int, str | None]:
        """How many resources of a kind one 1 MB page holds after the sort key `after`
        (Select COUNT), and the sort key the next page starts after (None: no more)."""
        arguments = self._query_arguments(org_pk(org_id), f"{kind}#", after)
        response = self._client.query(**arguments, Select="COUNT")
        last = response.get("LastEvaluatedKey")
        return int(response.get("Count", 0)), last["sk"]["S"] if last else None

    def counter(self, org_id: str, kind: str) -> int | None:
        """The stored total of a kind (None: no counter item)."""
        items = self._query_all(org_pk(org_id), sk_equals=f"COUNT#{kind}")
        if not items or "N" not in items[0].get("total", {}):
            return None
        return int(items[0]["total"]["N"])

    def targets(self, org_id: str) -> Targets:
        """Every workspace and folder of the organization (two Queries in its partition)."""
        found = Targets()
        for item in self._query_all(org_pk(org_id), prefix=WORKSPACE_PREFIX):
            workspace = _to_workspace(item)
            found.workspaces[workspace.id] = workspace
        for item in self._query_all(org_pk(org_id), prefix=FOLDER_PREFIX):
            folder = _to_folder(item)
            found.folders[folder.id] = folder
        return found

    def target_page(
        self, org_id: str, kind: TargetKind, after_id: str | None, limit: int
    ) -> list[Target]:
        prefix = WORKSPACE_PREFIX if kind is TargetKind.WORKSPACE else FOLDER_PREFIX
        after = prefix + after_id if after_id is not None else None
        items = self._page(org_pk(org_id), prefix, after, limit, projection="sk")
        return [Target(type=kind, id=i["sk"]["S"].removeprefix(prefix)) for i in items]

    def purge_tasks(self, org_id: str) -> set[tuple[str, str]]:
        """The (kind, id) of deleted resources whose memberships a purge task still removes."""
        tasks = set()
        for item in self._query_all(f"TASK#{org_id}", prefix=_PURGE_PREFIX):
            _, kind, resource_id, _round = item["sk"]["S"].split("#", 3)
            tasks.add((kind, resource_id))
        return tasks

    # --- groups: memberships and grants ------------------------------------------------------

    def members(
        self, org_id: str, group_id: str, after_user: str | None, limit: int
    ) -> list[Member]:
        """Up to `limit` of a group's membership items in user id order after `after_user`."""
        after = f"MEMBER#{after_user}" if after_user is not None else None
        items = self._page(group_pk(org_id, group_id), "MEMBER#", after, limit)
        return [_member(org_id, group_id, item) for item in items]

    def grants(self, org_id: str, group_id: str) -> list[StoredGrant]:
        """A group's grants and tombstones (one Query in its partition)."""
        items = self._query_all(group_pk(org_id, group_id), prefix=GRANT_PREFIX)
        return [_grant(org_id, item) for item in items]

    def groups_of_user(self, org_id: str, user_id: str) -> list[str]:
        """The groups whose membership items name the user (GSI1, eventually consistent)."""
        items = self._query_all(user_groups_pk(org_id, user_id), index="GSI1", projection="gsi1sk")
        return [item["gsi1sk"]["S"] for item in items]

    def memberships_present(self, org_id: str, user_id: str, group_ids: Sequence[str]) -> set[str]:
        """Which of the groups have a membership item for the user (strongly consistent)."""
        keys = [key(group_pk(org_id, g), f"MEMBER#{user_id}") for g in dict.fromkeys(group_ids)]
        found = self._batch_get(keys, "pk")
        prefix = group_pk(org_id, "")
        return {item["pk"]["S"].removeprefix(prefix) for item in found}

    def groups_granting(self, org_id: str, target: Target) -> list[str]:
        """Groups whose grant with a level names the target (GSI2)."""
        items = self._query_all(_grants_index_pk(org_id, target), index="GSI2", projection="gsi2sk")
        return [item["gsi2sk"]["S"] for item in items]

    # --- access records ----------------------------------------------------------------------

    def records_of_user(self, org_id: str, user_id: str) -> list[StoredRecord]:
        items = self._query_all(access_pk(org_id, user_id))
        return [_record(org_id, item) for item in items]

    def record_holders(
        self, org_id: str, target: Target, after: Position, limit: int
    ) -> tuple[list[str], Position]:
        """Users holding a record on a target, with a level or not (GSI2), a page at a time."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI2",
            "KeyConditionExpression": "gsi2pk = :pk",
            "ExpressionAttributeValues": {":pk": s(_records_index_pk(org_id, target))},
            "ProjectionExpression": "gsi2sk",
            "Limit": limit,
        }
        if after:
            arguments["ExclusiveStartKey"] = after
        response = self._client.query(**arguments)
        users = [item["gsi2sk"]["S"] for item in response.get("Items", [])]
        return users, response.get("LastEvaluatedKey")

    def records(self, org_id: str, pairs: Sequence[tuple[str, Target]]) -> list[StoredRecord]:
        keys = [key(access_pk(org_id, u), str(t)) for u, t in dict.fromkeys(pairs) if fits_key(u)]
        return [_record(org_id, item) for item in self._batch_get(keys)]

    # --- existence ---------------------------------------------------------------------------

    def existing(self, org_id: str, kind: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are resources of the kind (keys only, strongly consistent)."""
        wanted = [i for i in dict.fromkeys(ids) if fits_key(i)]
        found = self._batch_get([key(org_pk(org_id), resource_sk(kind, i)) for i in wanted], "sk")
        prefix = resource_sk(kind, "")
        return {item["sk"]["S"].removeprefix(prefix) for item in found}

    def get_resources(
        self, org_id: str, kind: str, ids: Sequence[str]
    ) -> dict[str, StoredResource]:
        wanted = [i for i in dict.fromkeys(ids) if fits_key(i)]
        found = self._batch_get([key(org_pk(org_id), resource_sk(kind, i)) for i in wanted])
        return {resource.id: resource for resource in map(_to_resource, found)}

    def guard_owners(
        self, org_id: str, kind: str, values: Sequence[UniqueValue]
    ) -> dict[UniqueValue, str]:
        """The owner each of the values' guards names, for the guards that exist."""
        by_sk = {_guard_sk(kind, value): value for value in values}
        keys = [key(org_pk(org_id), sk) for sk in by_sk]
        found = self._batch_get(keys, "sk, ownerId")
        return {by_sk[item["sk"]["S"]]: item["ownerId"]["S"] for item in found}

    # --- repairs -----------------------------------------------------------------------------

    def drop_guard_items(
        self, org_id: str, guard: Guard, owner_version: int | None
    ) -> list[TransactWriteItemTypeDef]:
        """Delete a guard still claimed by its owner, if the owner is still gone (None) or still
        at the version whose values do not include the guarded one."""
        pk = org_pk(org_id)
        delete: Any = {
            "TableName": self._table,
            "Key": key(pk, guard.sk),
            "ConditionExpression": "ownerId = :owner",
            "ExpressionAttributeValues": {":owner": s(guard.owner_id)},
        }
        return [
            {"Delete": delete},
            self._resource_condition(org_id, guard.kind, guard.owner_id, owner_version),
        ]

    def claim_guard_items(
        self, org_id: str, kind: str, value: UniqueValue, resource: StoredResource
    ) -> list[TransactWriteItemTypeDef]:
        """Put a missing guard for a resource still at the version read."""
        put: Any = {
            "TableName": self._table,
            "Item": {**key(org_pk(org_id), _guard_sk(kind, value)), "ownerId": s(resource.id)},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        return [
            {"Put": put},
            self._resource_condition(org_id, kind, resource.id, resource.version),
        ]

    def reindex_resource_item(
        self, org_id: str, kind: str, resource: StoredResource, wanted: Mapping[str, str]
    ) -> TransactWriteItemTypeDef:
        """Set a resource's unique-value index attributes to `wanted` (removing the others), if
        the resource is still at the version read."""
        names = [name for _, pk_name, sk_name in _INDEXES for name in (pk_name, sk_name)]
        sets = [name for name in names if name in wanted]
        removes = [name for name in names if name not in wanted]
        expression = " ".join(
            part
            for part in (
                "SET " + ", ".join(f"{name} = :{name}" for name in sets) if sets else "",
                "REMOVE " + ", ".join(removes) if removes else "",
            )
            if part
        )
        values = {f":{name}": s(wanted[name]) for name in sets}
        values[":expected"] = n(resource.version)
        update: Any = {
            "TableName": self._table,
            "Key": key(org_pk(org_id), resource_sk(kind, resource.id)),
            "UpdateExpression": expression,
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": values,
        }
        return {"Update": update}

    def set_counter_item(
        self, org_id: str, kind: str, total: int, seen: int | None
    ) -> TransactWriteItemTypeDef:
        """Set a kind's counter to `total` if it still holds `seen` (None: it did not exist)."""
        update: Any = {
            "TableName": self._table,
            "Key": key(org_pk(org_id), f"COUNT#{kind}"),
            "UpdateExpression": "SET #total = :total",
            "ExpressionAttributeNames": {"#total": "total"},
            "ExpressionAttributeValues": {":total": n(total)},
        }
        if seen is None:
            update["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            update["ConditionExpression"] = "#total = :seen"
            update["ExpressionAttributeValues"][":seen"] = n(seen)
        return {"Update": update}

    def drop_membership_items(
        self, org_id: str, group_id: str, user_id: str, gone_kind: str, gone_id: str
    ) -> list[TransactWriteItemTypeDef]:
        """Delete a membership whose user or group (`gone_kind`, `gone_id`) is still gone."""
        delete: Any = {
            "TableName": self._table,
            "Key": key(group_pk(org_id, group_id), f"MEMBER#{user_id}"),
            "ConditionExpression": "attribute_exists(pk)",
        }
        return [{"Delete": delete}, self._resource_condition(org_id, gone_kind, gone_id, None)]

    def reindex_membership_item(
        self, org_id: str, group_id: str, user_id: str
    ) -> TransactWriteItemTypeDef:
        """Rewrite a membership item's index attributes (the membership stays)."""
        update: Any = {
            "TableName": self._table,
            "Key": key(group_pk(org_id, group_id), f"MEMBER#{user_id}"),
            "UpdateExpression": "SET #kind = :kind, gsi1pk = :pk, gsi1sk = :sk",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": {"#kind": "kind"},
            "ExpressionAttributeValues": {
                ":kind": s("Membership"),
                ":pk": s(user_groups_pk(org_id, user_id)),
                ":sk": s(group_id),
            },
        }
        return {"Update": update}

    def drop_grant_items(
        self, org_id: str, grant: StoredGrant, gone: Target
    ) -> list[TransactWriteItemTypeDef]:
        """Delete a grant or tombstone whose target is still gone (what the target's clean-up
        does)."""
        delete: Any = {
            "TableName": self._table,
            "Key": key(group_pk(org_id, grant.group_id), f"{GRANT_PREFIX}{grant.target}"),
            "ConditionExpression": "attribute_exists(pk)",
        }
        return [{"Delete": delete}, self._target_absent(org_id, gone)]

    def retire_grant_items(
        self, org_id: str, grant: StoredGrant, expires_at: int
    ) -> list[TransactWriteItemTypeDef]:
        """Turn a deleted group's grant into its tombstone (what Group.Deleted's handling does),
        if it still gives the level read and the group is still gone."""
        item: Item = {
            **key(group_pk(org_id, grant.group_id), f"{GRANT_PREFIX}{grant.target}"),
            "kind": s("RevokedGroupGrant"),
            "groupId": s(grant.group_id),
            "targetType": s(grant.target.type.value),
            "targetId": s(grant.target.id),
            "expiresAt": n(expires_at),
            "gsi2pk": s(_revoked_index_pk(org_id, grant.target)),
            "gsi2sk": s(grant.group_id),
        }
        put: Any = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "#level = :level",
            "ExpressionAttributeNames": {"#level": "level"},
            "ExpressionAttributeValues": {":level": s(grant.level.value if grant.level else "")},
        }
        return [{"Put": put}, self._resource_condition(org_id, "Group", grant.group_id, None)]

    def reindex_grant_item(self, org_id: str, grant: StoredGrant) -> TransactWriteItemTypeDef:
        """Rewrite a grant's (or tombstone's) index attributes, if its level is still as read."""
        index_pk = (
            _grants_index_pk(org_id, grant.target)
            if grant.level is not None
            else _revoked_index_pk(org_id, grant.target)
        )
        values: dict[str, Any] = {
            ":pk": s(index_pk),
            ":sk": s(grant.group_id),
            ":group": s(grant.group_id),
            ":type": s(grant.target.type.value),
            ":id": s(grant.target.id),
        }
        if grant.level is not None:
            condition = "#level = :level"
            values[":level"] = s(grant.level.value)
        else:
            condition = "attribute_exists(pk) AND attribute_not_exists(#level)"
        update: Any = {
            "TableName": self._table,
            "Key": key(group_pk(org_id, grant.group_id), f"{GRANT_PREFIX}{grant.target}"),
            "UpdateExpression": (
                "SET gsi2pk = :pk, gsi2sk = :sk, groupId = :group, targetType = :type,"
                " targetId = :id"
            ),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#level": "level"},
            "ExpressionAttributeValues": values,
        }
        return {"Update": update}

    def write_record_item(
        self, org_id: str, before: AccessRecord | None, after: AccessRecord
    ) -> TransactWriteItemTypeDef:
        """Write `after` (its derived attributes recomputed) if the record is still as read."""
        condition: Any = (
            {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": n(before.version)},
            }
            if before is not None
            else {"ConditionExpression": "attribute_not_exists(pk)"}
        )
        stored = after.model_copy(update={"version": (before.version if before else 0) + 1})
        put: Any = {"TableName": self._table, "Item": _record_item(org_id, stored), **condition}
        return {"Put": put}

    def drop_record_item(self, org_id: str, record: AccessRecord) -> TransactWriteItemTypeDef:
        return record_delete_item(self._table, org_id, record)

    def user_condition(
        self, org_id: str, user_id: str, version: int | None
    ) -> TransactWriteItemTypeDef:
        """The user is still at `version` (None: still gone)."""
        return self._resource_condition(org_id, "User", user_id, version)

    def target_present(self, org_id: str, target: Target) -> TransactWriteItemTypeDef:
        return self._target_condition(org_id, target, "attribute_exists(pk)")

    def _target_absent(self, org_id: str, target: Target) -> TransactWriteItemTypeDef:
        return self._target_condition(org_id, target, "attribute_not_exists(pk)")

    def workspace_absent(self, org_id: str, workspace_id: str) -> TransactWriteItemTypeDef:
        return self._target_absent(org_id, Target(type=TargetKind.WORKSPACE, id=workspace_id))

    def commit(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        transact(self._client, items)

    # --- plumbing ----------------------------------------------------------------------------

    def _target_condition(
        self, org_id: str, target: Target, condition: str
    ) -> TransactWriteItemTypeDef:
        where = target_key(org_id, target)
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(where["pk"], where["sk"]),
                "ConditionExpression": condition,
            }
        }

    def _resource_condition(
        self, org_id: str, kind: str, resource_id: str, version: int | None
    ) -> TransactWriteItemTypeDef:
        check: Any = {
            "TableName": self._table,
            "Key": key(org_pk(org_id), resource_sk(kind, resource_id)),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        if version is not None:
            check["ConditionExpression"] = "version = :version"
            check["ExpressionAttributeValues"] = {":version": n(version)}
        return {"ConditionCheck": check}

    def _query_arguments(
        self, pk: str, prefix: str, after: str | None, projection: str | None = None
    ) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": s(pk), ":prefix": s(prefix)},
            "ConsistentRead": True,
        }
        if projection:
            arguments["ProjectionExpression"] = projection
        if after is not None:
            arguments["ExclusiveStartKey"] = key(pk, after)
        return arguments

    def _page(
        self, pk: str, prefix: str, after: str | None, limit: int, projection: str | None = None
    ) -> list[Item]:
        """One Query page of a partition's items under `prefix`, after the sort key `after`."""
        arguments = self._query_arguments(pk, prefix, after, projection)
        return list(self._client.query(**arguments, Limit=limit).get("Items", []))

    def _query_all(
        self,
        pk: str,
        prefix: str | None = None,
        sk_equals: str | None = None,
        index: str | None = None,
        projection: str | None = None,
    ) -> list[Item]:
        """Every item of one partition (or of its part under a prefix), page after page."""
        pk_name, sk_name = ("pk", "sk")
        arguments: dict[str, Any] = {"TableName": self._table}
        if index is not None:
            arguments["IndexName"] = index
            pk_name, sk_name = {"GSI1": ("gsi1pk", "gsi1sk"), "GSI2": ("gsi2pk", "gsi2sk")}[index]
        else:
            arguments["ConsistentRead"] = True
        condition = f"{pk_name} = :pk"
        values: dict[str, Any] = {":pk": s(pk)}
        if prefix is not None:
            condition += f" AND begins_with({sk_name}, :sk)"
            values[":sk"] = s(prefix)
        elif sk_equals is not None:
            condition += f" AND {sk_name} = :sk"
            values[":sk"] = s(sk_equals)
        arguments["KeyConditionExpression"] = condition
        arguments["ExpressionAttributeValues"] = values
        if projection:
            arguments["ProjectionExpression"] = projection
        items: list[Item] = []
        while True:
            response = self._client.query(**arguments)
            items += response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return items
            arguments["ExclusiveStartKey"] = last

    def _batch_get(self, keys: Sequence[Item], projection: str | None = None) -> list[Item]:
        """Every existing item among `keys`, strongly consistent."""
        return list(batch_get(self._client, self._table, keys, projection, consistent=True))


def _stored_item(item: Mapping[str, Any]) -> StoredItem:
    names = [name for _, pk_name, sk_name in _INDEXES for name in (pk_name, sk_name)]
    indexes = {name: item[name]["S"] for name in names if name in item}
    return StoredItem(_to_resource(item), indexes)


def _member(org_id: str, group_id: str, item: Mapping[str, Any]) -> Member:
    user_id = item["sk"]["S"].removeprefix("MEMBER#")
    wanted = {"kind": "Membership", "gsi1pk": user_groups_pk(org_id, user_id), "gsi1sk": group_id}
    consistent = all(item.get(name, {}).get("S") == wanted[name] for name in _MEMBERSHIP_DERIVED)
    return Member(group_id, user_id, consistent)


def _grant(org_id: str, item: Mapping[str, Any]) -> StoredGrant:
    group_id = item["pk"]["S"].removeprefix(group_pk(org_id, ""))
    kind, _, target_id = item["sk"]["S"].removeprefix(GRANT_PREFIX).partition(":")
    target = Target(type=TargetKind(kind), id=target_id)
    level = Level(item["level"]["S"]) if "level" in item else None
    index_pk = (
        _grants_index_pk(org_id, target) if level is not None else _revoked_index_pk(org_id, target)
    )
    stored_target = _to_target(item) if "targetType" in item and "targetId" in item else None
    consistent = (
        item.get("gsi2pk", {}).get("S") == index_pk
        and item.get("gsi2sk", {}).get("S") == group_id
        and item.get("groupId", {}).get("S") == group_id
        and stored_target == target
    )
    return StoredGrant(group_id, target, level, consistent)


def _record(org_id: str, item: Mapping[str, Any]) -> StoredRecord:
    record = _to_record(item)
    wanted = _record_item(org_id, record)
    consistent = all(item.get(name) == wanted.get(name) for name in _RECORD_DERIVED)
    stored = item.get("level", {}).get("S")
    return StoredRecord(record, Level(stored) if stored else None, consistent)


def as_grant(grant: StoredGrant) -> GroupGrant | None:
    if grant.level is None:
        return None
    return GroupGrant(group_id=grant.group_id, target=grant.target, level=grant.level)

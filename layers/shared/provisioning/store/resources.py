"""SCIM resources in the single table.

Item layout (an organization's resources under partition `ORG#<org>`):
- resource          sk `<Kind>#<id>`; `body` (JSON), `version`, `lastModified`; GSI1/GSI2 keys of
                    its unique attributes
- uniqueness guard  sk `UNIQUE#<Kind>#<attribute>#<key>`; `ownerId` (one per unique value, so two
                    writers of one userName cannot both commit: a transactional conditional put)
- counter           sk `COUNT#<Kind>`; `total`, kept in the same transactions, for `totalResults`
- value index       sk `VALUE#<Kind>#<attribute>#<id>#<key>`; `ownerId`; GSI1
                    `ORG#<org>#<Kind>#<attribute>` → `<key>`: one item per distinct value of an
                    indexed multi-valued attribute (a user's e-mail addresses), so an equality on
                    it is one Query whatever the organization's size
- listing position  sk `POSITION#<kinds>#<offset>`; `position`, `expiresAt` (TTL): where the
                    listing `offset` resources in continues, left by the index page that ended
                    there, so the next page need not walk every item before it

Writers may add their own items (memberships, outbox events) to a resource's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from provisioning.store.dynamo import (
    Item,
    StaleVersionError,
    batch_get,
    fits_key,
    key,
    n,
    org_pk,
    query_items,
    s,
    transact,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_INDEXES = (("GSI1", "gsi1pk", "gsi1sk"), ("GSI2", "gsi2pk", "gsi2sk"))

__all__ = [
    "IndexedValue",
    "Page",
    "ResourceStore",
    "StaleVersionError",
    "StoredResource",
    "UniqueValue",
]


@dataclass(frozen=True)
class StoredResource:
    """A resource as stored: its SCIM body (without the per-request `meta.location`) and version."""

    id: str
    version: int
    body: dict[str, Any]


@dataclass(frozen=True)
class UniqueValue:
    """A value an attribute must hold alone in its organization, by its comparison key."""

    attribute: str
    key: str


@dataclass(frozen=True)
class IndexedValue:
    """One value of an indexed multi-valued attribute, by its comparison key (shared by any
    number of resources)."""

    attribute: str
    key: str


@dataclass(frozen=True)
class Page:
    """One page of a listing in key order, and where the next one starts (None at the end)."""

    resources: list[StoredResource]
    last_id: str | None


def resource_sk(kind: str, resource_id: str) -> str:
    return f"{kind}#{resource_id}"


def _guard_sk(kind: str, unique: UniqueValue) -> str:
    return f"UNIQUE#{kind}#{unique.attribute}#{unique.key}"


def _index_pk(org_id: str, kind: str, position: int) -> str:
    return f"ORG#{org_id}#{kind}#{position}"


def _value_index_pk(org_id: str, kind: str, attribute: str) -> str:
    return f"ORG#{org_id}#{kind}#{attribute}"


def _position_sk(scope: str, offset: int) -> str:
    return f"POSITION#{scope}#{offset}"


def _value_sk(kind: str, resource_id: str, value: IndexedValue) -> str:
    return f"VALUE#{kind}#{value.attribute}#{resource_id}#{value.key}"


class ResourceStore:
    """Create, read, replace, delete and list SCIM resources of one organization, atomically with
    their uniqueness guards and counters. Every write is one DynamoDB transaction."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- reads -------------------------------------------------------------------------------

    def get(self, org_id: str, kind: str, resource_id: str) -> StoredResource | None:
        """One strongly consistent GetItem."""
        if not fits_key(resource_id):
            return None
        response = self._client.get_item(
            TableName=self._table,
            Key=key(org_pk(org_id), resource_sk(kind, resource_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _to_resource(item) if item else None

    def get_many(self, org_id: str, kind: str, ids: Sequence[str]) -> dict[str, StoredResource]:
        """The existing resources among `ids`, by id: BatchGetItem, 100 ids a call."""
        keys = [
            key(org_pk(org_id), resource_sk(kind, i)) for i in dict.fromkeys(ids) if fits_key(i)
        ]
        found = (_to_resource(item) for item in batch_get(self._client, self._table, keys))
        return {resource.id: resource for resource in found}

    def existing_ids(self, org_id: str, kind: str, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are resources of this kind (reads keys only)."""
        keys = [
            key(org_pk(org_id), resource_sk(kind, i)) for i in dict.fromkeys(ids) if fits_key(i)
        ]
        prefix = len(resource_sk(kind, ""))
        found = batch_get(self._client, self._table, keys, "sk")
        return {item["sk"]["S"][prefix:] for item in found}

    def find_unique(
        self, org_id: str, kind: str, position: int, value: str
    ) -> list[StoredResource]:
        """Resources whose `position`-th unique attribute has this key: one Query on its index."""
        if not fits_key(value):
            return []
        index, pk_name, sk_name = _INDEXES[position]
        response = self._client.query(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#pk = :pk AND #sk = :sk",
            ExpressionAttributeNames={"#pk": pk_name, "#sk": sk_name},
            ExpressionAttributeValues={
                ":pk": s(_index_pk(org_id, kind, position)),
                ":sk": s(value),
            },
        )
        return [_to_resource(item) for item in response.get("Items", [])]

    def ids_with_value(self, org_id: str, kind: str, value: IndexedValue) -> list[str]:
        """The ids of the resources holding this value of an indexed multi-valued attribute:
        one Query on GSI1 (more only past DynamoDB's 1 MB page, ~10,000 holders)."""
        if not fits_key(value.key):
            return []
        items = query_items(
            self._client,
            TableName=self._table,
            IndexName="GSI1",
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk = :key",
            ExpressionAttributeValues={
                ":pk": s(_value_index_pk(org_id, kind, value.attribute)),
                ":key": s(value.key),
            },
            ProjectionExpression="ownerId",
        )
        return sorted({item["ownerId"]["S"] for item in items})

    def count(self, org_id: str, kind: str) -> int:
        response = self._client.get_item(
            TableName=self._table, Key=key(org_pk(org_id), f"COUNT#{kind}"), ConsistentRead=True
        )
        item = response.get("Item")
        return int(item["total"]["N"]) if item and "N" in item["total"] else 0

    def page(self, org_id: str, kind: str, limit: int, after_id: str | None = None) -> Page:
        """Up to `limit` resources in id order after `after_id`: one consistent Query."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": s(org_pk(org_id)), ":prefix": s(f"{kind}#")},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after_id is not None:
            arguments["ExclusiveStartKey"] = key(org_pk(org_id), resource_sk(kind, after_id))
        response = self._client.query(**arguments)
        resources = [_to_resource(item) for item in response.get("Items", [])]
        more = "LastEvaluatedKey" in response and resources
        return Page(resources, resources[-1].id if more else None)

    def id_after(self, org_id: str, kind: str, skip: int) -> str | None:
        """The id of the `skip`-th resource in id order (None when there are fewer), read with
        keys only: where a page `skip` resources in starts (index pagination)."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": s(org_pk(org_id)), ":prefix": s(f"{kind}#")},
            "ProjectionExpression": "sk",
            "ConsistentRead": True,
        }
        prefix = len(resource_sk(kind, ""))
        last: str | None = None
        while skip > 0:
            response = self._client.query(**arguments, Limit=min(skip, 10_000))
            items = response.get("Items", [])
            if not items:
                return None
            skip -= len(items)
            last = items[-1]["sk"]["S"][prefix:]
            if skip > 0 and "LastEvaluatedKey" not in response:
                return None
            arguments["ExclusiveStartKey"] = response.get("LastEvaluatedKey")
        return last

    def saved_position(self, org_id: str, scope: str, offset: int, now: int) -> str | None:
        """Where the listing of `scope` continues `offset` resources in, as the page that ended
        there noted it (None when none did, or its note expired): one GetItem."""
        response = self._client.get_item(
            TableName=self._table,
            Key=key(org_pk(org_id), _position_sk(scope, offset)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item or int(item["expiresAt"]["N"]) <= now:
            return None  # DynamoDB's TTL removes an expired item late, not at once
        return item["position"]["S"]

    def save_position(
        self, org_id: str, scope: str, offset: int, position: str, expires_at: int
    ) -> None:
        """Note where the listing of `scope` continues `offset` resources in: one PutItem."""
        self._client.put_item(
            TableName=self._table,
            Item={
                **key(org_pk(org_id), _position_sk(scope, offset)),
                "position": s(position),
                "expiresAt": n(expires_at),
            },
        )

    def iterate(
        self, org_id: str, kind: str, page_size: int = 500, after_id: str | None = None
    ) -> Iterator[StoredResource]:
        """The resources of a kind in id order (after `after_id`), read page by page as consumed."""
        after = after_id
        while True:
            page = self.page(org_id, kind, page_size, after)
            yield from page.resources
            if page.last_id is None:
                return
            after = page.last_id

    # --- writes ------------------------------------------------------------------------------

    def create_items(
        self,
        org_id: str,
        kind: str,
        resource: StoredResource,
        unique: Sequence[UniqueValue | None],
    ) -> list[TransactWriteItemTypeDef]:
        """Put the resource, claim its unique values and count it (at most 4 items). A failed
        guard raises UniquenessException naming the attribute whose value is taken."""
        pk = org_pk(org_id)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(org_id, kind, resource, unique),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            self._count_change(pk, kind, +1),
        ]
        items += [self._claim(pk, kind, value, resource.id) for value in unique if value]
        return items

    def commit(self, items: Sequence[TransactWriteItemTypeDef]) -> None:
        """Run items built by the `*_items` methods (plus the caller's) as one transaction."""
        transact(self._client, items)

    def replace_items(
        self,
        org_id: str,
        kind: str,
        resource: StoredResource,
        unique: Sequence[UniqueValue | None],
        previous_unique: Sequence[UniqueValue | None],
        expected_version: int,
    ) -> list[TransactWriteItemTypeDef]:
        """Overwrite the resource if it is still at `expected_version`, moving the uniqueness
        guards of changed values (at most 5 items). Fails with StaleVersionError or
        UniquenessException."""
        pk = org_pk(org_id)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(org_id, kind, resource, unique),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": n(expected_version)},
                }
            }
        ]
        for new, old in zip(unique, previous_unique, strict=True):
            if new == old:
                continue
            if old:
                items.append(self._release(pk, kind, old, resource.id))
            if new:
                items.append(self._claim(pk, kind, new, resource.id))
        return items

    def index_items(
        self,
        org_id: str,
        kind: str,
        resource_id: str,
        indexed: Sequence[IndexedValue],
        previous: Sequence[IndexedValue] = (),
    ) -> list[TransactWriteItemTypeDef]:
        """The index items of the values of indexed multi-valued attributes that came (`indexed`
        but not `previous`) or went: for the resource's own transaction (a create has no
        previous values, a delete no new ones)."""
        came = [value for value in dict.fromkeys(indexed) if value not in set(previous)]
        went = [value for value in dict.fromkeys(previous) if value not in set(indexed)]
        return [
            *(self._unindex_value(org_id, kind, resource_id, value) for value in went),
            *(self._index_value(org_id, kind, resource_id, value) for value in came),
        ]

    def touch_item(
        self,
        org_id: str,
        kind: str,
        resource_id: str,
        last_modified: str,
        expected_version: int | None,
    ) -> TransactWriteItemTypeDef:
        """A transaction item recording a change that lives outside the resource's item (its
        members): a new version and `lastModified`. Without `expected_version` concurrent touches
        all succeed, so writers of different members never conflict."""
        condition = "attribute_exists(pk)"
        values = {":one": n(1), ":now": s(last_modified)}
        if expected_version is not None:
            condition = "version = :expected"
            values[":expected"] = n(expected_version)
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), resource_sk(kind, resource_id)),
                "UpdateExpression": "SET lastModified = :now ADD version :one",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def delete_items(
        self,
        org_id: str,
        kind: str,
        resource: StoredResource,
        unique: Sequence[UniqueValue | None],
    ) -> list[TransactWriteItemTypeDef]:
        """Delete the resource at its read version, release its unique values, uncount it."""
        pk = org_pk(org_id)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": key(pk, resource_sk(kind, resource.id)),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": n(resource.version)},
                }
            },
            self._count_change(pk, kind, -1),
        ]
        items += [self._release(pk, kind, value, resource.id) for value in unique if value]
        return items

    # --- transaction items -------------------------------------------------------------------

    def _claim(
        self, pk: str, kind: str, value: UniqueValue, owner_id: str
    ) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {**key(pk, _guard_sk(kind, value)), "ownerId": s(owner_id)},
                # The owner may re-claim its own value (e.g. a case-only rename of userName).
                "ConditionExpression": "attribute_not_exists(pk) OR ownerId = :owner",
                "ExpressionAttributeValues": {":owner": s(owner_id)},
            }
        }

    def _release(
        self, pk: str, kind: str, value: UniqueValue, owner_id: str
    ) -> TransactWriteItemTypeDef:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(pk, _guard_sk(kind, value)),
                "ConditionExpression": "attribute_not_exists(pk) OR ownerId = :owner",
                "ExpressionAttributeValues": {":owner": s(owner_id)},
            }
        }

    def _index_value(
        self, org_id: str, kind: str, resource_id: str, value: IndexedValue
    ) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    **key(org_pk(org_id), _value_sk(kind, resource_id, value)),
                    "ownerId": s(resource_id),
                    "gsi1pk": s(_value_index_pk(org_id, kind, value.attribute)),
                    "gsi1sk": s(value.key),
                },
            }
        }

    def _unindex_value(
        self, org_id: str, kind: str, resource_id: str, value: IndexedValue
    ) -> TransactWriteItemTypeDef:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), _value_sk(kind, resource_id, value)),
            }
        }

    def _count_change(self, pk: str, kind: str, delta: int) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(pk, f"COUNT#{kind}"),
                "UpdateExpression": "ADD #total :delta",
                "ExpressionAttributeNames": {"#total": "total"},
                "ExpressionAttributeValues": {":delta": n(delta)},
            }
        }

    def version_check(
        self, org_id: str, kind: str, resource_id: str, version: int
    ) -> TransactWriteItemTypeDef:
        """A transaction item that fails unless the resource is still at `version` (neither
        changed nor deleted since it was read)."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), resource_sk(kind, resource_id)),
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": n(version)},
            }
        }

    def exists_check(self, org_id: str, kind: str, resource_id: str) -> TransactWriteItemTypeDef:
        """A transaction item that fails unless the resource exists (e.g. a member being added)."""
        return {
            "ConditionCheck": {
                "TableName": self._table,
                "Key": key(org_pk(org_id), resource_sk(kind, resource_id)),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }


def _to_item(
    org_id: str, kind: str, resource: StoredResource, unique: Sequence[UniqueValue | None]
) -> Item:
    item: Item = {
        **key(org_pk(org_id), resource_sk(kind, resource.id)),
        "kind": s(kind),
        "id": s(resource.id),
        "version": n(resource.version),
        "body": s(json.dumps(resource.body, separators=(",", ":"))),
    }
    last_modified = (resource.body.get("meta") or {}).get("lastModified")
    if last_modified:
        item["lastModified"] = s(last_modified)
    for position, value in enumerate(unique):
        if value and position < len(_INDEXES):
            _, pk_name, sk_name = _INDEXES[position]
            item[pk_name] = s(_index_pk(org_id, kind, position))
            item[sk_name] = s(value.key)
    return item


def _to_resource(item: Mapping[str, Any]) -> StoredResource:
    body = json.loads(item["body"]["S"])
    if "lastModified" in item and isinstance(body.get("meta"), dict):
        body["meta"]["lastModified"] = item["lastModified"]["S"]
    return StoredResource(id=item["id"]["S"], version=int(item["version"]["N"]), body=body)

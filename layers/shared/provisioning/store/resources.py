"""SCIM resources in the single table.

Item layout (all of an organization's directory under partition `ORG#<org>`):
- resource          sk `<Kind>#<id>`; `body` (JSON), `version`; GSI1/GSI2 keys of its unique
                    attributes
- uniqueness guard  sk `UNIQUE#<Kind>#<attribute>#<key>`; `ownerId` (one per unique value, so two
                    writers of one userName cannot both commit: a transactional conditional put)
- counter           sk `COUNT#<Kind>`; `total`, kept in the same transactions, for `totalResults`
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from scim2_models import UniquenessException

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
    )

Item = dict[str, "AttributeValueTypeDef"]

_INDEXES = (("GSI1", "gsi1pk", "gsi1sk"), ("GSI2", "gsi2pk", "gsi2sk"))
_TRANSACTION_ATTEMPTS = 5


class StaleVersionError(Exception):
    """The resource changed since it was read (optimistic lock lost)."""


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
class Page:
    """One page of a listing in key order, and where the next one starts (None at the end)."""

    resources: list[StoredResource]
    last_id: str | None


def _org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def _resource_sk(kind: str, resource_id: str) -> str:
    return f"{kind}#{resource_id}"


def _guard_sk(kind: str, unique: UniqueValue) -> str:
    return f"UNIQUE#{kind}#{unique.attribute}#{unique.key}"


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


class ResourceStore:
    """Create, read, replace, delete and list SCIM resources of one organization, atomically with
    their uniqueness guards and counters. Every write is one DynamoDB transaction."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- reads -------------------------------------------------------------------------------

    def get(self, org_id: str, kind: str, resource_id: str) -> StoredResource | None:
        """One strongly consistent GetItem."""
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": _s(_org_pk(org_id)), "sk": _s(_resource_sk(kind, resource_id))},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _to_resource(item) if item else None

    def find_unique(self, org_id: str, kind: str, position: int, key: str) -> list[StoredResource]:
        """Resources whose `position`-th unique attribute has this key: one Query on its index."""
        index, pk_name, sk_name = _INDEXES[position]
        response = self._client.query(
            TableName=self._table,
            IndexName=index,
            KeyConditionExpression="#pk = :pk AND #sk = :sk",
            ExpressionAttributeNames={"#pk": pk_name, "#sk": sk_name},
            ExpressionAttributeValues={
                ":pk": _s(_index_pk(org_id, kind, position)),
                ":sk": _s(key),
            },
        )
        return [_to_resource(item) for item in response.get("Items", [])]

    def count(self, org_id: str, kind: str) -> int:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": _s(_org_pk(org_id)), "sk": _s(f"COUNT#{kind}")},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return int(item["total"]["N"]) if item and "N" in item["total"] else 0

    def page(self, org_id: str, kind: str, limit: int, after_id: str | None = None) -> Page:
        """Up to `limit` resources in id order after `after_id`: one consistent Query."""
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": _s(_org_pk(org_id)),
                ":prefix": _s(f"{kind}#"),
            },
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after_id is not None:
            arguments["ExclusiveStartKey"] = {
                "pk": _s(_org_pk(org_id)),
                "sk": _s(_resource_sk(kind, after_id)),
            }
        response = self._client.query(**arguments)
        resources = [_to_resource(item) for item in response.get("Items", [])]
        more = "LastEvaluatedKey" in response and resources
        return Page(resources, resources[-1].id if more else None)

    def iterate(self, org_id: str, kind: str, page_size: int = 500) -> Iterator[StoredResource]:
        """Every resource of a kind, page by page (for filters no index answers)."""
        after: str | None = None
        while True:
            page = self.page(org_id, kind, page_size, after)
            yield from page.resources
            if page.last_id is None:
                return
            after = page.last_id

    # --- writes ------------------------------------------------------------------------------

    def create(
        self, org_id: str, kind: str, resource: StoredResource, unique: Sequence[UniqueValue | None]
    ) -> None:
        """Put the resource, claim its unique values and count it, all or nothing.
        Raises UniquenessException naming the attribute whose value is taken."""
        pk = _org_pk(org_id)
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
        guards = [self._claim(pk, kind, value, resource.id) for value in unique if value]
        self._transact(items + guards, _guard_labels(items, unique))

    def replace(
        self,
        org_id: str,
        kind: str,
        resource: StoredResource,
        unique: Sequence[UniqueValue | None],
        previous_unique: Sequence[UniqueValue | None],
        expected_version: int,
    ) -> None:
        """Overwrite the resource if it is still at `expected_version`, moving the uniqueness
        guards of changed values. Raises StaleVersionError or UniquenessException."""
        pk = _org_pk(org_id)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _to_item(org_id, kind, resource, unique),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": _n(expected_version)},
                }
            }
        ]
        moved = [(new, old) for new, old in zip(unique, previous_unique, strict=True) if new != old]
        labels = {0: "resource"}
        for new, old in moved:
            if old:
                items.append(self._release(pk, kind, old, resource.id))
            if new:
                labels[len(items)] = new.attribute
                items.append(self._claim(pk, kind, new, resource.id))
        self._transact(items, labels)

    def delete(
        self, org_id: str, kind: str, resource: StoredResource, unique: Sequence[UniqueValue | None]
    ) -> None:
        """Delete the resource at its read version, release its unique values, uncount it."""
        pk = _org_pk(org_id)
        items: list[TransactWriteItemTypeDef] = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"pk": _s(pk), "sk": _s(_resource_sk(kind, resource.id))},
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": _n(resource.version)},
                }
            },
            self._count_change(pk, kind, -1),
        ]
        items += [self._release(pk, kind, value, resource.id) for value in unique if value]
        self._transact(items, {0: "resource"})

    # --- transaction plumbing ----------------------------------------------------------------

    def _claim(
        self, pk: str, kind: str, value: UniqueValue, owner_id: str
    ) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "pk": _s(pk),
                    "sk": _s(_guard_sk(kind, value)),
                    "ownerId": _s(owner_id),
                },
                # The owner may re-claim its own value (e.g. a case-only rename of userName).
                "ConditionExpression": "attribute_not_exists(pk) OR ownerId = :owner",
                "ExpressionAttributeValues": {":owner": _s(owner_id)},
            }
        }

    def _release(
        self, pk: str, kind: str, value: UniqueValue, owner_id: str
    ) -> TransactWriteItemTypeDef:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": {"pk": _s(pk), "sk": _s(_guard_sk(kind, value))},
                "ConditionExpression": "attribute_not_exists(pk) OR ownerId = :owner",
                "ExpressionAttributeValues": {":owner": _s(owner_id)},
            }
        }

    def _count_change(self, pk: str, kind: str, delta: int) -> TransactWriteItemTypeDef:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"pk": _s(pk), "sk": _s(f"COUNT#{kind}")},
                "UpdateExpression": "ADD #total :delta",
                "ExpressionAttributeNames": {"#total": "total"},
                "ExpressionAttributeValues": {":delta": _n(delta)},
            }
        }

    def _transact(self, items: list[TransactWriteItemTypeDef], labels: Mapping[int, str]) -> None:
        """Run the transaction; retry only what DynamoDB says may succeed on retry (a conflict
        with a concurrent transaction), and translate failed conditions by the item that failed."""
        for attempt in range(_TRANSACTION_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = [
                    r.get("Code", "None") for r in error.response.get("CancellationReasons", [])
                ]
                failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
                if failed:
                    raise _condition_failure(labels.get(failed[0], "resource")) from error
                if "TransactionConflict" not in reasons or attempt == _TRANSACTION_ATTEMPTS - 1:
                    raise
                time.sleep(0.02 * 2**attempt)


def _guard_labels(
    items: Sequence[TransactWriteItemTypeDef], unique: Sequence[UniqueValue | None]
) -> dict[int, str]:
    labels = {0: "resource"}
    position = len(items)
    for value in unique:
        if value:
            labels[position] = value.attribute
            position += 1
    return labels


def _condition_failure(label: str) -> Exception:
    if label == "resource":
        return StaleVersionError()
    return UniquenessException(detail=f"{label} is already in use in this organization")


def _index_pk(org_id: str, kind: str, position: int) -> str:
    return f"ORG#{org_id}#{kind}#{position}"


def _to_item(
    org_id: str, kind: str, resource: StoredResource, unique: Sequence[UniqueValue | None]
) -> Item:
    item: Item = {
        "pk": _s(_org_pk(org_id)),
        "sk": _s(_resource_sk(kind, resource.id)),
        "kind": _s(kind),
        "id": _s(resource.id),
        "version": _n(resource.version),
        "body": _s(json.dumps(resource.body, separators=(",", ":"))),
    }
    for position, value in enumerate(unique):
        if value and position < len(_INDEXES):
            _, pk_name, sk_name = _INDEXES[position]
            item[pk_name] = _s(_index_pk(org_id, kind, position))
            item[sk_name] = _s(value.key)
    return item


def _to_resource(item: Mapping[str, Any]) -> StoredResource:
    return StoredResource(
        id=item["id"]["S"], version=int(item["version"]["N"]), body=json.loads(item["body"]["S"])
    )

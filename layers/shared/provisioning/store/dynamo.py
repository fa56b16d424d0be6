"""Low-level DynamoDB plumbing the stores share: attribute values, keys, transactions, batches."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

Item = dict[str, "AttributeValueTypeDef"]

MAX_TRANSACTION_ITEMS = 100
# DynamoDB keys hold at most 1,024 bytes; with our prefixes, a value of this size always fits.
MAX_KEY_VALUE_BYTES = 512
_BATCH_GET_KEYS = 100
_TRANSACTION_ATTEMPTS = 5
_BATCH_ATTEMPTS = 8


class StaleVersionError(Exception):
    """The resource changed since it was read (optimistic lock lost)."""


def fits_key(value: str) -> bool:
    """Whether a client-given value (an id, a unique value) can be part of a key. A longer one
    names nothing, and reading it would be a DynamoDB validation error (a 500), not a miss."""
    return len(value.encode()) <= MAX_KEY_VALUE_BYTES


def s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def key(pk: str, sk: str) -> Item:
    return {"pk": s(pk), "sk": s(sk)}


class MissingReferenceError(Exception):
    """A resource the write refers to (e.g. a member being added) no longer exists."""


def _too_large(reason: Any) -> bool:
    """Whether a transaction's cancellation reason is an item over 400 KB: DynamoDB may report it
    as the item's reason rather than as a ValidationException of the whole call (moto does, as
    `ItemSizeTooLarge`, for items whose size it counts past the limit)."""
    code = str(reason.get("Code") or "")
    message = str(reason.get("Message") or "").casefold()
    return code == "ItemSizeTooLarge" or (code == "ValidationError" and "size" in message)


def transact(client: DynamoDBClient, items: Sequence[TransactWriteItemTypeDef]) -> None:
    """Run one transaction. Retry only what DynamoDB says may succeed on retry (a conflict with a
    concurrent transaction). A failed condition is explained by the item that failed: a uniqueness
    guard (UniquenessException naming the attribute), an existence check (MissingReferenceError),
    or the resource itself (StaleVersionError)."""
    for attempt in range(_TRANSACTION_ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=list(items))
            return
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if (code == "ValidationException" and "size" in str(error).casefold()) or any(
                _too_large(reason) for reason in error.response.get("CancellationReasons", [])
            ):
                # An item over DynamoDB's 400 KB: the request carried too much for one resource.
                # scim2-models is imported where a SCIM error is raised, not by this module: the
                # fan-out and purge functions share it and would otherwise load it at cold start.
                from scim2_models import PayloadTooLargeException

                raise PayloadTooLargeException(
                    detail="the resource is too large to store (DynamoDB's 400 KB item limit)"
                ) from error
            if code != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            failed = [i for i, code in enumerate(reasons) if code == "ConditionalCheckFailed"]
            if failed:
                raise _explain(items[failed[0]]) from error
            if "TransactionConflict" not in reasons or attempt == _TRANSACTION_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * 2**attempt)


def _explain(item: TransactWriteItemTypeDef) -> Exception:
    if "ConditionCheck" in item:
        return MissingReferenceError()
    operation: Any = item.get("Put") or item.get("Delete") or item.get("Update") or {}
    sort_key = (operation.get("Item") or operation.get("Key") or {}).get("sk", {}).get("S", "")
    if sort_key.startswith("UNIQUE#"):
        attribute = sort_key.split("#")[2]
        from scim2_models import UniquenessException

        return UniquenessException(detail=f"{attribute} is already in use in this organization")
    return StaleVersionError()


def batch_get(
    client: DynamoDBClient,
    table: str,
    keys: Sequence[Item],
    projection: str | None = None,
    *,
    consistent: bool = False,
) -> Iterator[Item]:
    """Every existing item among `keys`, 100 keys a call, retrying what DynamoDB leaves
    unprocessed (with back-off, as its documentation asks); `consistent` reads strongly
    consistent (an item written a moment ago counts)."""
    for start in range(0, len(keys), _BATCH_GET_KEYS):
        request: dict[str, Any] = {"Keys": list(keys[start : start + _BATCH_GET_KEYS])}
        if projection:
            request["ProjectionExpression"] = projection
        if consistent:
            request["ConsistentRead"] = True
        pending: dict[str, Any] = {table: request}
        for attempt in range(_BATCH_ATTEMPTS):
            response = client.batch_get_item(RequestItems=pending)
            yield from response.get("Responses", {}).get(table, [])
            pending = dict(response.get("UnprocessedKeys") or {})
            if not pending:
                break
            time.sleep(0.02 * 2**attempt)
        else:
            raise RuntimeError("DynamoDB left keys unprocessed after retries")


def query_items(client: DynamoDBClient, **arguments: Any) -> Iterator[Item]:
    """Every item a Query matches, following DynamoDB's 1 MB pages."""
    while True:
        response = client.query(**arguments)
        yield from response.get("Items", [])
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        arguments["ExclusiveStartKey"] = last


def in_chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""A faithful, O(items) TransactWriteItems for moto's DynamoDB.

moto snapshots every table a transaction touches with a deep copy (once per item), so a transaction
costs time proportional to the table: creating the 300th user took 0.2 s, the 1,000th several
seconds, and a 10,000-member group was out of reach. DynamoDB itself checks every condition of a
transaction first and then applies all writes or none; this does the same, so nothing needs
copying but the items written, and a cancelled transaction leaves no stream record behind.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend

_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}
_MAX_ITEMS = 100

Outcome = tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]


def _key_of(backend: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return dict(op["Key"])
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _check(backend: DynamoDBBackend, op: dict[str, Any], key: dict[str, Any]) -> Outcome:
    """One operation's condition against the current item, as DynamoDB evaluates it."""
    expression = op.get("ConditionExpression")
    if expression is None:
        return (None, None, None)
    current = backend.get_item(op["TableName"], key)
    condition = get_filter_expression(
        expression, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    )
    if condition.expr(current):
        return (None, None, None)
    returned = None
    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
        returned = current.to_json()["Attributes"]
    failure = ConditionalCheckFailed(item=returned)
    return ("ConditionalCheckFailed", str(failure.message), returned)


def _apply(backend: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names = op.get("ExpressionAttributeNames")
    values = op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(op["TableName"], op["Item"])
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names or {},
            expression_attribute_values=values or {},
        )


# DynamoDB applies a transaction atomically; threads of one process (concurrency tests) must not
# interleave their checks and writes here either.
_ONE_AT_A_TIME = threading.Lock()


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """Check every condition, then apply every write; on any failure, nothing changes."""
    with _ONE_AT_A_TIME:
        _transact_write_items(self, transact_items)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > _MAX_ITEMS:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    planned: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    outcomes: list[Outcome] = []
    for entry in transact_items:
        if len(entry) != 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(entry.items()))
        if op_type not in _OPERATIONS:
            raise ValueError("Unsupported transaction operation")
        key = _key_of(self, op_type, op)
        identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        planned.append((op_type, op, key))
        outcomes.append(_check(self, op, key))
    if any(code is not None for code, _, _ in outcomes):
        raise TransactionCanceledException(outcomes)

    before = [
        (op["TableName"], key, copy.deepcopy(self.get_item(op["TableName"], key)))
        for op_type, op, key in planned
        if op_type != "ConditionCheck"
    ]
    stream_lengths = {
        name: len(table.stream_shard.items)
        for name, table in self.tables.items()
        if table.stream_shard is not None
    }
    for index, (op_type, op, key) in enumerate(planned):
        try:
            _apply(self, op_type, op, key)
        except Exception as error:
            _restore(self, before, stream_lengths)
            failed: list[Outcome] = [(None, None, None)] * len(planned)
            failed[index] = (type(error).__name__, str(error), None)
            raise TransactionCanceledException(failed) from error


def _restore(
    backend: DynamoDBBackend,
    before: list[tuple[str, dict[str, Any], Any]],
    stream_lengths: dict[str, int],
) -> None:
    for table_name, key, item in reversed(before):
        if item is None:
            backend.delete_item(table_name, key)
        else:
            backend.put_item(table_name, item.to_json()["Attributes"])
    for name, length in stream_lengths.items():
        shard = backend.tables[name].stream_shard
        if shard is not None:
            del shard.items[length:]


@contextmanager
def atomic_transactions() -> Iterator[None]:
    """Use this transaction implementation while the block runs."""
    original = DynamoDBBackend.transact_write_items
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]

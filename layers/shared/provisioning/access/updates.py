"""Writing access records with their Access.Granted / Access.Revoked events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from provisioning.access.model import AccessRecord
from provisioning.access.rules import change_of
from provisioning.events.contract import AccessChange, AccessGranted, AccessRevoked
from provisioning.store.access import AccessStore
from provisioning.store.dynamo import MAX_TRANSACTION_ITEMS, in_chunks
from provisioning.store.outbox import outbox_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Each transaction carries its records and at most one event of each kind.
RECORDS_PER_TRANSACTION = MAX_TRANSACTION_ITEMS - 2

Update = tuple[AccessRecord | None, AccessRecord]


class AccessWriter:
    """Commits (record as read, record as it should be) pairs, each transaction with the events
    of the level changes it makes. A record changed since it was read fails its transaction with
    StaleVersionError: the caller reads again and recomputes."""

    def __init__(self, store: AccessStore, table_name: str) -> None:
        self._store = store
        self._table = table_name

    def write(self, org_id: str, updates: Sequence[Update]) -> list[AccessChange]:
        """Write the updates that change something; returns the level changes made."""
        needed = [(before, after) for before, after in updates if _differs(before, after)]
        changes: list[AccessChange] = []
        for chunk in in_chunks(needed, RECORDS_PER_TRANSACTION):
            items = [self._store.write_item(org_id, before, after) for before, after in chunk]
            made = [c for before, after in chunk if (c := change_of(before, after)) is not None]
            self._store.commit([*items, *self._events(org_id, made)])
            changes += made
        return changes

    def _events(self, org_id: str, changes: list[AccessChange]) -> list[TransactWriteItemTypeDef]:
        granted = [change for change in changes if change.level is not None]
        revoked = [change for change in changes if change.level is None]
        events = []
        if granted:
            events.append(outbox_item(self._table, AccessGranted(org_id=org_id, changes=granted)))
        if revoked:
            events.append(outbox_item(self._table, AccessRevoked(org_id=org_id, changes=revoked)))
        return events


def _differs(before: AccessRecord | None, after: AccessRecord) -> bool:
    if before is None:
        return bool(after.sources)
    return before.sources != after.sources or before.active != after.active

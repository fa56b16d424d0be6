"""Writing access records with their Access.Granted / Access.Revoked events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from provisioning.access.model import AccessRecord
from provisioning.access.rules import change_of
from provisioning.events.contract import AccessChange, AccessGranted, AccessRevoked
from provisioning.store.access import AccessStore
from provisioning.store.dynamo import MAX_TRANSACTION_ITEMS
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

    def write(
        self,
        org_id: str,
        updates: Sequence[Update],
        guards: Mapping[str, TransactWriteItemTypeDef] | None = None,
        keep_empty: bool = True,
    ) -> list[AccessChange]:
        """Write the updates that change something; returns the level changes made.

        `guards` (by user id) go into every transaction that writes that user's records: a
        check that the user is still as read (not deleted, not deactivated meanwhile), so a
        record is never created or widened from a stale view of its user."""
        guards = guards or {}
        needed = [(before, after) for before, after in updates if _differs(before, after)]
        changes: list[AccessChange] = []
        for chunk in self._transactions(needed, guards):
            items = [self._store.write_item(org_id, b, a, keep_empty) for b, a in chunk]
            users = dict.fromkeys(after.user_id for _, after in chunk)
            checks = [guards[user] for user in users if user in guards]
            made = [c for before, after in chunk if (c := change_of(before, after)) is not None]
            self._store.commit([*items, *checks, *self._events(org_id, made)])
            changes += made
        return changes

    @staticmethod
    def _transactions(
        updates: Sequence[Update], guards: Mapping[str, TransactWriteItemTypeDef]
    ) -> list[list[Update]]:
        """Updates in batches that fit one transaction with their users' guards."""
        batches: list[list[Update]] = [[]]
        guarded: set[str] = set()
        for update in updates:
            user = update[1].user_id
            cost = 1 + (user in guards and user not in guarded)
            used = len(batches[-1]) + len(guarded)
            if batches[-1] and used + cost > RECORDS_PER_TRANSACTION:
                batches.append([])
                guarded = set()
            batches[-1].append(update)
            if user in guards:
                guarded.add(user)
        return [batch for batch in batches if batch]

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
    if not before.sources and not after.sources:
        return False  # an empty record's `active` flag gives nothing
    return before.sources != after.sources or before.active != after.active

"""Writing access records with their Access.Granted / Access.Revoked events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from provisioning.access.model import AccessRecord, Target
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

    def write(
        self,
        org_id: str,
        updates: Sequence[Update],
        guards: Mapping[str, TransactWriteItemTypeDef] | None = None,
        keep_empty: bool = True,
        targets: Mapping[Target, TransactWriteItemTypeDef] | None = None,
    ) -> list[AccessChange]:
        """Write the updates that change something; returns the level changes made.

        `guards` (by user id) go into every transaction that writes that user's records: a
        check that the user is still as read (not deleted, not deactivated meanwhile), so a
        record is never created or widened from a stale view of its user. `targets` (checks
        that a workspace or folder exists) go into every transaction that creates a record on
        that target: a record that existed is removed with its deleted target (its version
        condition fails the late writer), but one created after the target's clean-up would
        outlive it."""
        guards = guards or {}
        targets = targets or {}
        changes: list[AccessChange] = []
        for chunk in self._transactions(_needed(updates), guards, targets):
            items, made = self._items(org_id, chunk, guards, targets, keep_empty)
            self._store.commit(items)
            changes += made
        return changes

    def remove(self, org_id: str, records: Sequence[AccessRecord]) -> list[AccessChange]:
        """Delete records whatever their sources (their target is gone), each if still as read,
        with Access.Revoked for those that gave a level."""
        changes: list[AccessChange] = []
        for chunk in in_chunks(records, RECORDS_PER_TRANSACTION):
            made = [c for r in chunk if (c := change_of(r, None)) is not None]
            items = [self._store.delete_record_item(org_id, record) for record in chunk]
            self._store.commit([*items, *self._events(org_id, made)])
            changes += made
        return changes

    def transaction(
        self,
        org_id: str,
        updates: Sequence[Update],
        guards: Mapping[str, TransactWriteItemTypeDef] | None = None,
    ) -> tuple[list[TransactWriteItemTypeDef], list[AccessChange]]:
        """The items of one transaction making `updates`, with their guards and events, for a
        caller that commits them together with writes of its own (a workspace and its creator's
        grant). Returns the items and the level changes they make."""
        guards = guards or {}
        needed = _needed(updates)
        if len(self._transactions(needed, guards, {})) > 1:
            raise ValueError("the updates do not fit one transaction")
        return self._items(org_id, needed, guards, {}, keep_empty=True)

    def _items(
        self,
        org_id: str,
        chunk: Sequence[Update],
        guards: Mapping[str, TransactWriteItemTypeDef],
        targets: Mapping[Target, TransactWriteItemTypeDef],
        keep_empty: bool,
    ) -> tuple[list[TransactWriteItemTypeDef], list[AccessChange]]:
        items = [self._store.write_item(org_id, b, a, keep_empty) for b, a in chunk]
        checks = [guards[key] for key in _guarded(chunk, guards) if key in guards]
        checks += [targets[key] for key in _created_on(chunk, targets)]
        made = [c for before, after in chunk if (c := change_of(before, after)) is not None]
        return [*items, *checks, *self._events(org_id, made)], made

    @staticmethod
    def _transactions(
        updates: Sequence[Update],
        guards: Mapping[str, TransactWriteItemTypeDef],
        targets: Mapping[Target, TransactWriteItemTypeDef],
    ) -> list[list[Update]]:
        """Updates in batches that fit one transaction with their users' and targets' checks."""
        batches: list[list[Update]] = [[]]
        checked: set[object] = set()
        for update in updates:
            needs = {*_guarded([update], guards), *_created_on([update], targets)} - checked
            used = len(batches[-1]) + len(checked)
            if batches[-1] and used + 1 + len(needs) > RECORDS_PER_TRANSACTION:
                batches.append([])
                checked = set()
                needs = {*_guarded([update], guards), *_created_on([update], targets)}
            batches[-1].append(update)
            checked |= needs
        return [batch for batch in batches if batch]

    def _events(self, org_id: str, changes: list[AccessChange]) -> list[TransactWriteItemTypeDef]:
        return access_events(self._table, org_id, changes)


def access_events(
    table_name: str, org_id: str, changes: Sequence[AccessChange | None]
) -> list[TransactWriteItemTypeDef]:
    """The outbox items announcing `changes` (None: no change): one Access.Granted for those
    that give a level, one Access.Revoked for those that take all access away."""
    granted = [c for c in changes if c is not None and c.level is not None]
    revoked = [c for c in changes if c is not None and c.level is None]
    events = []
    if granted:
        events.append(outbox_item(table_name, AccessGranted(org_id=org_id, changes=granted)))
    if revoked:
        events.append(outbox_item(table_name, AccessRevoked(org_id=org_id, changes=revoked)))
    return events


def _needed(updates: Sequence[Update]) -> list[Update]:
    return [(before, after) for before, after in updates if _differs(before, after)]


def _guarded(chunk: Sequence[Update], guards: Mapping[str, object]) -> list[str]:
    """The users of `chunk` that have a guard, once each, in order."""
    return [user for user in dict.fromkeys(a.user_id for _, a in chunk) if user in guards]


def _created_on(chunk: Sequence[Update], targets: Mapping[Target, object]) -> list[Target]:
    """The targets of `chunk` on which a record with sources is created and a check is given."""
    created = (a.target for b, a in chunk if b is None and a.sources)
    return [target for target in dict.fromkeys(created) if target in targets]


def _differs(before: AccessRecord | None, after: AccessRecord) -> bool:
    if before is None:
        return bool(after.sources)
    if not before.sources and not after.sources:
        return False  # an empty record's `active` flag gives nothing
    return before.sources != after.sources or before.active != after.active

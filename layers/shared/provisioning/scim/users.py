"""Users (RFC 7643 §4.1), with the memberships that go when a user is deleted."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from provisioning.events.contract import UserDeleted, UserStatusChanged
from provisioning.kinds import user_is_active
from provisioning.scim.errors import TooManyRequests
from provisioning.scim.resources import GROUP, MAX_INDEXED_VALUES, USER
from provisioning.scim.service import (
    NO_PRECONDITIONS,
    ChangeEvents,
    Preconditions,
    ResourceFacade,
    ResourceService,
)
from provisioning.store.dynamo import MAX_TRANSACTION_ITEMS, MissingReferenceError
from provisioning.store.memberships import Membership, MembershipStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore, StoredResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Memberships removed inside the DELETE request itself; a user in more groups than this (rare)
# has the rest removed by the purge worker, in bounded batches.
INLINE_MEMBERSHIP_REMOVALS = 500
# How often a conditional delete re-reads a user that changed while its memberships were removed.
_PINNED_ATTEMPTS = 4
# Memberships removed in the user's own delete transaction: DynamoDB's 100 items, less the user,
# its counter, two uniqueness guards, the event, the purge task and its e-mail index items.
_IN_DELETE = MAX_TRANSACTION_ITEMS - 6 - MAX_INDEXED_VALUES


class UserService(ResourceFacade):
    """The SCIM operations on /Users, and the user's direct groups."""

    def __init__(
        self, resources: ResourceStore, memberships: MembershipStore, table_name: str
    ) -> None:
        super().__init__(ResourceService(resources, USER))
        self._store = resources
        self._memberships = memberships
        self._table = table_name

    def create(self, org_id: str, payload: dict[str, Any]) -> StoredResource:
        return self._resources.create(org_id, payload)

    def replace(
        self,
        org_id: str,
        user_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource:
        return self._resources.replace(
            org_id, user_id, payload, preconditions, events=self._status_event(org_id)
        )

    def patch(
        self,
        org_id: str,
        user_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource:
        return self._resources.patch(
            org_id, user_id, payload, preconditions, events=self._status_event(org_id)
        )

    def _status_event(self, org_id: str) -> ChangeEvents:
        """A deactivation or reactivation commits with its User.StatusChanged event, which
        suspends or restores the user's access."""

        def events(before: StoredResource, after: StoredResource) -> list[TransactWriteItemTypeDef]:
            if user_is_active(before) == user_is_active(after):
                return []
            event = UserStatusChanged(org_id=org_id, user_id=after.id, active=user_is_active(after))
            return [outbox_item(self._table, event)]

        return events

    def groups(self, org_id: str, user_id: str) -> list[StoredResource]:
        """The user's direct groups that still exist (a deleted group's memberships may linger
        until the purge worker has removed them)."""
        ids = self._memberships.groups_of(org_id, user_id)
        if not ids:
            return []
        found = self._store.get_many(org_id, GROUP.name, ids)
        return [found[group_id] for group_id in sorted(found)]

    def groups_of_users(
        self, org_id: str, user_ids: list[str], concurrency: int
    ) -> dict[str, list[StoredResource]]:
        """The direct groups of each user, by user id: one Query per user on GSI1 (`concurrency`
        at a time; DynamoDB has no query across partition keys) and one BatchGetItem per 100
        distinct groups for them all, instead of one per user."""
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            memberships = dict(
                zip(
                    user_ids,
                    pool.map(lambda u: self._memberships.groups_of(org_id, u), user_ids),
                    strict=True,
                )
            )
        wanted = sorted({group_id for ids in memberships.values() for group_id in ids})
        found = self._store.get_many(org_id, GROUP.name, wanted) if wanted else {}
        return {
            user_id: [found[group_id] for group_id in sorted(ids) if group_id in found]
            for user_id, ids in memberships.items()
        }

    def delete(self, org_id: str, user_id: str, preconditions: Preconditions | None = None) -> None:
        """Delete the user with a User.Deleted event, its memberships (the first batch read) and
        a purge task for whatever membership remains, in one transaction when they fit (a user
        in up to ~70 groups), so a refused delete (412, a lost race) removes nothing."""
        preconditions = preconditions or NO_PRECONDITIONS
        inline: list[Membership] = []
        for _ in range(_PINNED_ATTEMPTS):
            version = self.get(org_id, user_id).version
            preconditions.require(version)
            batch = self._memberships.memberships_of_user(
                org_id, user_id, INLINE_MEMBERSHIP_REMOVALS
            )
            split = max(0, len(batch) - _IN_DELETE)
            ahead, inline = batch[:split], batch[split:]
            # With a precondition, each removal ahead of the delete commits only while the user
            # is still at the version it held for.
            pin = (
                [self._store.version_check(org_id, USER.name, user_id, version)]
                if preconditions.given
                else []
            )
            try:
                self._memberships.remove_many(org_id, ahead, _always(pin), reserved=len(pin))
                break
            except MissingReferenceError:
                continue  # the user changed or went: evaluate again on what it is now
        else:
            raise TooManyRequests(detail="the user is changing too often; retry")

        def extra(current: StoredResource) -> list[TransactWriteItemTypeDef]:
            # The task also catches a membership added while the user was being deleted (the
            # index read above may lag), so none can outlive the user.
            return [
                outbox_item(self._table, UserDeleted(org_id=org_id, user_id=current.id)),
                self._memberships.purge_task_item(org_id, USER.name, current.id),
                *(self._memberships.remove_item(org_id, m.group_id, m.user_id) for m in inline),
            ]

        self._resources.delete(org_id, user_id, preconditions, extra)


def _always(
    items: list[TransactWriteItemTypeDef],
) -> Callable[[list[Membership]], list[TransactWriteItemTypeDef]]:
    """The same extra items for every batch."""
    return lambda _batch: list(items)

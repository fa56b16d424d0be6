"""Users (RFC 7643 §4.1), with the memberships that go when a user is deleted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provisioning.events.contract import UserDeleted, UserStatusChanged
from provisioning.scim.resources import GROUP, USER
from provisioning.scim.service import (
    ChangeEvents,
    ResourceFacade,
    ResourceService,
    check_precondition,
)
from provisioning.store.memberships import MembershipStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore, StoredResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# Memberships removed inside the DELETE request itself; a user in more groups than this (rare)
# has the rest removed by the purge worker, in bounded batches.
INLINE_MEMBERSHIP_REMOVALS = 500


def is_active(user: StoredResource) -> bool:
    """A user without `active` is active (RFC 7643 §4.1.1 leaves it to the provider; Entra and
    Okta send it on every create)."""
    return user.body.get("active") is not False


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
        self, org_id: str, user_id: str, payload: dict[str, Any], if_match: str | None
    ) -> StoredResource:
        return self._resources.replace(
            org_id, user_id, payload, if_match, events=self._status_event(org_id)
        )

    def patch(
        self, org_id: str, user_id: str, payload: dict[str, Any], if_match: str | None
    ) -> StoredResource:
        return self._resources.patch(
            org_id, user_id, payload, if_match, events=self._status_event(org_id)
        )

    def _status_event(self, org_id: str) -> ChangeEvents:
        """A deactivation or reactivation commits with its User.StatusChanged event, which
        suspends or restores the user's access."""

        def events(before: StoredResource, after: StoredResource) -> list[TransactWriteItemTypeDef]:
            if is_active(before) == is_active(after):
                return []
            event = UserStatusChanged(org_id=org_id, user_id=after.id, active=is_active(after))
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

    def delete(self, org_id: str, user_id: str, if_match: str | None) -> None:
        """Remove the user's memberships (one bounded batch), then the user, with a User.Deleted
        event and a purge task for whatever membership remains."""
        check_precondition(self.get(org_id, user_id), if_match)
        batch = self._memberships.memberships_of_user(org_id, user_id, INLINE_MEMBERSHIP_REMOVALS)
        self._memberships.remove_many(org_id, batch, lambda _chunk: [], reserved=0)

        def extra(current: StoredResource) -> list[TransactWriteItemTypeDef]:
            # The task also catches a membership added while the user was being deleted (the
            # index read above may lag), so none can outlive the user.
            return [
                outbox_item(self._table, UserDeleted(org_id=org_id, user_id=current.id)),
                self._memberships.purge_task_item(org_id, USER.name, current.id),
            ]

        self._resources.delete(org_id, user_id, if_match, extra)

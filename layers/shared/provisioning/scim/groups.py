"""Groups and their members (RFC 7643 §4.2): the group's attributes are an ordinary resource; its
members are items of their own, changed by difference only, in transactions with their events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scim2_models import InvalidValueException

from provisioning.events.contract import GroupDeleted, GroupMembersChanged
from provisioning.scim.members import MemberEdit, split_member_list, split_patch
from provisioning.scim.resources import GROUP, USER
from provisioning.scim.service import Preconditions, ResourceFacade, ResourceService
from provisioning.store.dynamo import MissingReferenceError, StaleVersionError
from provisioning.store.memberships import BatchExtras, MembershipStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore, StoredResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

_MISSING_MEMBER = "a member is not a user of this organization"


@dataclass
class MemberChanges:
    """Members to add and remove, written in batches each with its Group.MembersChanged event;
    the first batch also carries the group's own write (its version, its attributes)."""

    resources: ResourceStore
    memberships: MembershipStore
    table: str
    org_id: str
    group_id: str
    to_add: set[str]
    to_remove: set[str]

    exact: bool = False  # computed against the whole member list (a replace)
    new_group: bool = False  # created in the same transaction: no pending change can name it

    @property
    def empty(self) -> bool:
        return not self.to_add and not self.to_remove

    @property
    def needs_current_version(self) -> bool:
        return self.exact

    def write(self, head: list[TransactWriteItemTypeDef]) -> None:
        """All or nothing for the client: the first transaction (with `head`) decides; a change
        too large for one is finished by this request or, if it dies midway, by the group's next
        member write or deletion. A lost first transaction finishes any pending change of the
        group before the caller computes the change again."""
        try:
            self.memberships.apply(
                self.org_id,
                self.group_id,
                sorted(self.to_add),
                sorted(self.to_remove),
                self._member_check,
                self._extras(head),
                reserved=len(head) + 1,
                existing_users=self._existing_users,
                guarded=not self.new_group,
            )
        except MissingReferenceError:
            raise InvalidValueException(detail=_MISSING_MEMBER) from None
        except StaleVersionError:
            self.finish_pending()
            raise

    def finish_pending(self) -> None:
        self.memberships.finish(
            self.org_id, self.group_id, self._member_check, self._extras([]), self._existing_users
        )

    def _extras(self, head: list[TransactWriteItemTypeDef]) -> BatchExtras:
        def extras(added: list[str], removed: list[str], first: bool) -> list[Any]:
            event = GroupMembersChanged(
                org_id=self.org_id, group_id=self.group_id, added=added, removed=removed
            )
            return [*(head if first else []), outbox_item(self.table, event)]

        return extras

    def _member_check(self, user_id: str) -> TransactWriteItemTypeDef:
        return self.resources.exists_check(self.org_id, USER.name, user_id)

    def _existing_users(self, user_ids: list[str]) -> set[str]:
        return self.resources.existing_ids(self.org_id, USER.name, user_ids)


class GroupService(ResourceFacade):
    """The SCIM operations on /Groups, members included."""

    def __init__(
        self, resources: ResourceStore, memberships: MembershipStore, table_name: str
    ) -> None:
        super().__init__(ResourceService(resources, GROUP))
        self._store = resources
        self._memberships = memberships
        self._table = table_name

    def member_ids(self, org_id: str, group_id: str) -> list[str]:
        return list(self._memberships.members(org_id, group_id))

    def create(self, org_id: str, payload: dict[str, Any]) -> StoredResource:
        rest, edit = split_member_list(payload)
        edit = edit or MemberEdit()
        edit.check_types(set())
        members = edit.replacement or set()
        self._require_users(org_id, members)

        def changes(stored: StoredResource) -> MemberChanges:
            created = self._changes(org_id, stored.id, members, set())
            created.new_group = True
            return created

        return self._resources.create(org_id, rest, changes)

    def replace(
        self,
        org_id: str,
        group_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource:
        """PUT replaces the member list too (absent `members` means none, RFC 7644 §3.5.1).
        Members are matched on their value: a kept member must keep its immutable type."""
        rest, edit = split_member_list(payload)
        if edit is None:
            edit = MemberEdit()
            edit.replace(set())
        return self._resources.replace(
            org_id,
            group_id,
            rest,
            preconditions,
            lambda current: self._pending(org_id, current, edit),
        )

    def patch(
        self,
        org_id: str,
        group_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource:
        rest, edit = split_patch(payload)
        remaining = next((v for k, v in rest.items() if k.casefold() == "operations"), None)
        sent = next((v for k, v in payload.items() if k.casefold() == "operations"), None)
        only_members = bool(sent) and not remaining
        return self._resources.patch(
            org_id,
            group_id,
            None if only_members else rest,
            preconditions,
            lambda current: self._pending(org_id, current, edit),
        )

    def delete(
        self, org_id: str, group_id: str, preconditions: Preconditions | None = None
    ) -> None:
        """Delete the group now; a purge task removes its memberships in bounded batches (a
        group may have 100,000), each with its event. Until then, readers skip deleted groups."""

        attempts: list[str] = []

        def extra(current: StoredResource) -> list[TransactWriteItemTypeDef]:
            if attempts:
                # The last attempt lost: a pending member change may have been in the way.
                self._changes(org_id, current.id, set(), set()).finish_pending()
            attempts.append(current.id)
            event = GroupDeleted(org_id=org_id, group_id=current.id)
            return [
                outbox_item(self._table, event),
                self._memberships.purge_task_item(org_id, GROUP.name, current.id),
                # A pending member change is finished before the group goes, so the purge
                # task sees every membership it would have added.
                self._memberships.pending_guard(org_id, current.id),
            ]

        self._resources.delete(org_id, group_id, preconditions, extra)

    def _pending(self, org_id: str, current: StoredResource, edit: MemberEdit) -> MemberChanges:
        if edit.is_empty:
            return self._changes(org_id, current.id, set(), set())
        to_add, to_remove = self._difference(org_id, current.id, edit)
        if not to_add and not to_remove and self._memberships.pending(org_id, current.id):
            # Nothing to write against the members written so far, so no guard would meet the
            # pending change, which may still add or remove these very members: the earlier
            # change goes first (RFC 7644 §3.5.2: operations apply in order).
            self._changes(org_id, current.id, set(), set()).finish_pending()
            to_add, to_remove = self._difference(org_id, current.id, edit)
        self._require_users(org_id, to_add)
        changes = self._changes(org_id, current.id, to_add, to_remove)
        changes.exact = edit.replacement is not None
        return changes

    def _difference(
        self, org_id: str, group_id: str, edit: MemberEdit
    ) -> tuple[set[str], set[str]]:
        """(to add, to remove): the edit against the members it names, or against all of them
        when it replaces the list."""
        if edit.replacement is None:
            touched = sorted(edit.added | edit.removed)
            members = self._memberships.existing_members(org_id, group_id, touched)
        else:
            members = set(self._memberships.members(org_id, group_id))
        edit.check_types(members)
        return edit.against(members)

    def _changes(
        self, org_id: str, group_id: str, to_add: set[str], to_remove: set[str]
    ) -> MemberChanges:
        return MemberChanges(
            self._store, self._memberships, self._table, org_id, group_id, to_add, to_remove
        )

    def _require_users(self, org_id: str, ids: set[str]) -> None:
        """Every new member must be a user of this organization; otherwise nothing is written."""
        if not ids:
            return
        missing = ids - self._store.existing_ids(org_id, USER.name, sorted(ids))
        if missing:
            shown = ", ".join(sorted(missing)[:5])
            raise InvalidValueException(detail=f"{_MISSING_MEMBER}: {shown}")

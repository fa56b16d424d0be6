"""Access operations an admin performs: group grants, direct grants, and reading who has what
and why. Group grants take effect through the fan-out (their event); direct grants are written
here, on the one record they change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provisioning import clients
from provisioning.access.errors import ConflictError, NotFoundError
from provisioning.access.model import AccessRecord, GroupGrant, Level, Target, TargetKind
from provisioning.access.rules import with_direct
from provisioning.access.updates import AccessWriter
from provisioning.events.contract import GroupGrantChanged
from provisioning.kinds import GROUP_TYPE, USER_TYPE, user_is_active
from provisioning.settings import Settings, get_settings
from provisioning.store.access import AccessStore
from provisioning.store.dynamo import MissingReferenceError, StaleVersionError
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore, StoredResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

    from provisioning.store.organizations import OrganizationStore

_ATTEMPTS = 8


class AccessService:
    """Set and remove group and direct grants; read access records."""

    def __init__(
        self,
        access: AccessStore,
        organizations: OrganizationStore,
        resources: ResourceStore,
        writer: AccessWriter,
        table_name: str,
    ) -> None:
        self._access = access
        self._organizations = organizations
        self._resources = resources
        self._writer = writer
        self._table = table_name

    @classmethod
    def build(cls, settings: Settings | None = None) -> AccessService:
        """The service on the container's clients."""
        from provisioning.store.organizations import OrganizationStore

        settings = settings or get_settings()
        client = clients.dynamodb()
        access = AccessStore(client, settings.table_name)
        return cls(
            access,
            OrganizationStore(client, settings.table_name),
            ResourceStore(client, settings.table_name),
            AccessWriter(access, settings.table_name),
            settings.table_name,
        )

    # --- group grants ------------------------------------------------------------------------

    def set_group_grant(
        self, org_id: str, group_id: str, target: Target, level: Level | None
    ) -> None:
        """Set (or, with None, remove) a group's level on a target, with its Group.GrantChanged
        event in the same transaction; the fan-out gives its members the access."""
        self._require_target(org_id, target)
        event = GroupGrantChanged(org_id=org_id, group_id=group_id, target=target, level=level)
        grant = (
            self._access.put_grant_item(
                org_id, GroupGrant(group_id=group_id, target=target, level=level)
            )
            if level is not None
            else self._access.revoke_grant_item(org_id, group_id, target)
        )
        try:
            self._access.commit(
                [
                    self._resources.exists_check(org_id, GROUP_TYPE, group_id),
                    # A grant written after its target's clean-up would outlive the target.
                    self._organizations.target_check(org_id, target),
                    grant,
                    outbox_item(self._table, event),
                ]
            )
        except MissingReferenceError:
            self._require_target(org_id, target)
            raise NotFoundError(f"group {group_id} not found") from None

    def group_grants(self, org_id: str, group_id: str) -> list[GroupGrant]:
        if self._resources.get(org_id, GROUP_TYPE, group_id) is None:
            raise NotFoundError(f"group {group_id} not found")
        return self._access.grants_of_group(org_id, group_id)

    # --- direct grants -----------------------------------------------------------------------

    def set_direct(
        self, org_id: str, user_id: str, target: Target, level: Level | None
    ) -> AccessRecord | None:
        """Set a user's direct level on a target; None removes the user from it: the direct
        grant and any access retained from a group (what `folderRevocation: manual` keeps until
        an admin removes it). Group grants still apply. Returns the record as written."""
        self._require_target(org_id, target)
        for _ in range(_ATTEMPTS):
            record = self._access.record(org_id, user_id, target)
            user = self._resources.get(org_id, USER_TYPE, user_id)
            if user is None:
                raise NotFoundError(f"user {user_id} not found")
            sources = with_direct(record.sources if record else (), level)
            after = (record or AccessRecord(user_id=user_id, target=target)).model_copy(
                update={"sources": sources, "active": user_is_active(user)}
            )
            guard = self._resources.version_check(org_id, USER_TYPE, user_id, user.version)
            try:
                check = {target: self._organizations.target_check(org_id, target)}
                self._writer.write(org_id, [(record, after)], {user_id: guard}, targets=check)
            except (StaleVersionError, MissingReferenceError):
                self._require_target(org_id, target)
                continue  # the record or the user changed meanwhile: read again
            return self._access.record(org_id, user_id, target)
        raise ConflictError("the access record is changing too often; retry")

    def creator_grant(
        self, org_id: str, user: StoredResource, target: Target
    ) -> list[TransactWriteItemTypeDef]:
        """The items that make `user` (as read) Editor of a target created in the same
        transaction (a member's new workspace): the record, a check that the user is still as
        read, and the Access.Granted event. Nothing can hold a record on a new target yet."""
        record = AccessRecord(
            user_id=user.id,
            target=target,
            sources=with_direct((), Level.EDITOR),
            active=user_is_active(user),
        )
        guard = self._resources.version_check(org_id, USER_TYPE, user.id, user.version)
        items, _changes = self._writer.transaction(org_id, [(None, record)], {user.id: guard})
        return items

    # --- reads -------------------------------------------------------------------------------

    def access_of_user(self, org_id: str, user_id: str) -> list[AccessRecord]:
        if self._resources.get(org_id, USER_TYPE, user_id) is None:
            raise NotFoundError(f"user {user_id} not found")
        return [r for r in self._access.records_of_user(org_id, user_id) if r.sources]

    def explain(self, org_id: str, user_id: str, target: Target) -> AccessRecord | None:
        """The user's record on a target: its level and every source of it."""
        self._require_target(org_id, target)
        return self._access.record(org_id, user_id, target)

    def who_has(self, org_id: str, target: Target) -> list[AccessRecord]:
        """Users with a level on a target (an eventually consistent index read)."""
        self._require_target(org_id, target)
        return self._access.holders(org_id, target)

    def groups_on(self, org_id: str, target: Target) -> list[GroupGrant]:
        """The groups holding a level on a target (an eventually consistent index read)."""
        self._require_target(org_id, target)
        return self._access.grants_on(org_id, target)

    def _require_target(self, org_id: str, target: Target) -> None:
        """404 unless the target exists; a folder of a deleted workspace (whose clean-up has
        not reached it yet) does not."""
        if target.type is TargetKind.WORKSPACE:
            found = self._organizations.workspace(org_id, target.id) is not None
        else:
            folder = self._organizations.folder(org_id, target.id)
            found = (
                folder is not None
                and self._organizations.workspace(org_id, folder.workspace_id) is not None
            )
        if not found:
            raise NotFoundError(f"{target.type.value} {target.id} not found")

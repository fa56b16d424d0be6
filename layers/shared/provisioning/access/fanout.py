"""The access fan-out: what each directory or grant event does to users' access records.

Every handler reads the current state (grants, memberships, the user's `active` flag) and rewrites
the records it touches from it, conditioned on the versions it read; events only say where to
look. So a duplicated, late or reordered event changes nothing that a timely one would not, and
a run that fails midway is completed by its retry. Reads come after the records they guard: any
change committed after those reads has its own event, whose handler then sees this one's writes
or fails on their version and recomputes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provisioning.access.model import (
    AccessRecord,
    GroupGrant,
    Level,
    Source,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.access.rules import grant_reach, group_sources, rederive_group
from provisioning.access.updates import AccessWriter, Update
from provisioning.events.contract import (
    DomainEvent,
    FolderDeleted,
    GroupDeleted,
    GroupGrantChanged,
    GroupMembersChanged,
    UserDeleted,
    UserStatusChanged,
    WorkspaceDeleted,
)
from provisioning.kinds import GROUP_TYPE, USER_TYPE, user_is_active
from provisioning.store.access import AccessStore, GroupReach
from provisioning.store.dynamo import (
    MAX_TRANSACTION_ITEMS,
    MissingReferenceError,
    StaleVersionError,
    in_chunks,
)
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore

if TYPE_CHECKING:
    from provisioning.store.organizations import OrganizationStore

# Users handled per read-compute-write round (three BatchGetItem calls of ~100 keys each).
USERS_PER_ROUND = 100
# Members of a group handled per message; the rest goes on in a follow-up message, so no
# invocation grows with the group (about 10 rounds: a few seconds on DynamoDB).
MEMBERS_PER_MESSAGE = 1_000
# Rounds lost to a concurrent writer are recomputed from fresh reads this many times.
_ATTEMPTS = 8
# Grants and records a deleted target's clean-up removes per message; the rest goes on in a
# follow-up message (`resume_after` names the target being cleared, after a step counter that
# keeps each follow-up's idempotency key new).
CLEANUP_PER_MESSAGE = 1_000


# The events `AccessFanout.handle` acts on: what the bus rule must route to the fan-out's queue.
CONSUMED_EVENTS: tuple[type[DomainEvent], ...] = (
    GroupMembersChanged,
    GroupGrantChanged,
    GroupDeleted,
    UserStatusChanged,
    UserDeleted,
    WorkspaceDeleted,
    FolderDeleted,
)


@dataclass(frozen=True)
class Outcome:
    """What handling an event did, and where a large group's fan-out resumes (None: done)."""

    users: int
    changes: int
    resume_after: str | None = None


class AccessFanout:
    """Applies directory and grant events to access records."""

    def __init__(
        self,
        access: AccessStore,
        organizations: OrganizationStore,
        resources: ResourceStore,
        memberships: MembershipStore,
        writer: AccessWriter,
    ) -> None:
        self._access = access
        self._organizations = organizations
        self._resources = resources
        self._memberships = memberships
        self._writer = writer

    def handle(self, event: DomainEvent, resume_after: str | None = None) -> Outcome:
        """Apply one event; `resume_after` continues a group grant's fan-out after that member."""
        match event:
            case GroupMembersChanged():
                users = [*event.added, *event.removed]
                return Outcome(len(users), self.rederive(event.org_id, event.group_id, users))
            case GroupGrantChanged():
                members = self._memberships.members_after(
                    event.org_id, event.group_id, resume_after, MEMBERS_PER_MESSAGE
                )
                changes = self.rederive(event.org_id, event.group_id, members)
                more = len(members) == MEMBERS_PER_MESSAGE
                return Outcome(len(members), changes, members[-1] if more else None)
            case GroupDeleted():
                # Its members lose its sources as the purge removes their memberships (each
                # batch is a Group.MembersChanged); its grants become tombstones now.
                self._revoke_grants(event.org_id, event.group_id)
                return Outcome(0, 0)
            case UserStatusChanged():
                return Outcome(1, self.refresh_user(event.org_id, event.user_id))
            case UserDeleted():
                return Outcome(1, self.remove_user(event.org_id, event.user_id))
            case WorkspaceDeleted():
                return self._remove_workspace(event.org_id, event.workspace_id, resume_after)
            case FolderDeleted():
                folder = Target(type=TargetKind.FOLDER, id=event.folder_id)
                return self._clear_targets(event.org_id, [folder], resume_after)
        return Outcome(0, 0)  # a type this version does not act on

    def rederive(self, org_id: str, group_id: str, user_ids: Sequence[str]) -> int:
        """Re-derive what the group gives each user, on every target the group holds or
        recently held a grant on. Returns the number of level changes."""
        changes = 0
        for chunk in in_chunks(list(dict.fromkeys(user_ids)), USERS_PER_ROUND):

            def round_(users: Sequence[str] = chunk) -> int:
                return self._rederive_round(org_id, group_id, users)

            changes += self._retrying(round_)
        return changes

    def refresh_user(self, org_id: str, user_id: str) -> int:
        """Suspend or restore a user's access to match its `active` flag."""

        def round_() -> int:
            records = self._access.records_of_user(org_id, user_id)
            user = self._resources.get(org_id, USER_TYPE, user_id)
            if user is None:
                return 0  # deleted: User.Deleted removes its records
            active = user_is_active(user)
            updates = [(r, r.model_copy(update={"active": active})) for r in records]
            guard = self._resources.version_check(org_id, USER_TYPE, user_id, user.version)
            return len(self._writer.write(org_id, updates, {user_id: guard}))

        return self._retrying(round_)

    def remove_user(self, org_id: str, user_id: str) -> int:
        """A deleted user loses every record, whatever its sources."""

        def round_() -> int:
            records = self._access.records_of_user(org_id, user_id)
            updates = [(r, r.model_copy(update={"sources": ()})) for r in records]
            return len(self._writer.write(org_id, updates, keep_empty=False))

        return self._retrying(round_)

    # --- deleted targets ---------------------------------------------------------------------

    def _remove_workspace(
        self, org_id: str, workspace_id: str, resume_after: str | None
    ) -> Outcome:
        """A deleted workspace's folders (home included), then the workspace: each cleared of
        grants and records. A folder's item goes before its grants, so no grant can be set on it
        meanwhile; the follow-up message names the folder being cleared, since its item can no
        longer be listed."""
        folders = [
            Target(type=TargetKind.FOLDER, id=folder.id)
            for folder in self._organizations.folders_of(org_id, workspace_id)
        ]
        workspace = Target(type=TargetKind.WORKSPACE, id=workspace_id)
        return self._clear_targets(org_id, [*folders, workspace], resume_after)

    def _clear_targets(
        self, org_id: str, targets: Sequence[Target], resume_after: str | None
    ) -> Outcome:
        step, resumed = _resume_point(resume_after)
        pending = list(dict.fromkeys([*([resumed] if resumed else []), *targets]))
        budget, users, changes = CLEANUP_PER_MESSAGE, 0, 0
        for target in pending:
            if target.type is TargetKind.FOLDER:
                self._organizations.delete_folder_item(org_id, target.id)
            cleared, removed, made = self._clear_target(org_id, target, budget)
            budget, users, changes = budget - removed, users + removed, changes + made
            if not cleared:
                return Outcome(users, changes, f"{step + 1}#{target}")
        return Outcome(users, changes)

    def _clear_target(self, org_id: str, target: Target, budget: int) -> tuple[bool, int, int]:
        """Remove up to `budget` grants and records of a deleted target: grants first, so that
        no group derives a source on it again. Returns (all gone, items removed, level
        changes). Index reads lag a little: an item found again after its removal is removed
        again, at no harm."""
        removed = changes = 0
        while removed < budget:
            wanted = min(budget - removed, MAX_TRANSACTION_ITEMS)
            groups = self._access.groups_referring_to(org_id, target, wanted)
            if not groups:
                break
            self._access.commit([self._access.delete_grant_item(org_id, g, target) for g in groups])
            removed += len(groups)
        while removed < budget:
            wanted = min(budget - removed, USERS_PER_ROUND)
            users = self._access.users_with_records_on(org_id, target, wanted)
            if not users:
                return True, removed, changes

            def round_(users: Sequence[str] = users) -> int:
                found = self._access.records(org_id, [(user, target) for user in users])
                return len(self._writer.remove(org_id, list(found.values())))

            changes += self._retrying(round_)
            removed += len(users)
        return False, removed, changes

    # --- rounds ------------------------------------------------------------------------------

    def _rederive_round(self, org_id: str, group_id: str, user_ids: Sequence[str]) -> int:
        reach = self._access.reach_of_group(org_id, group_id)
        workspaces = self._organizations.workspaces(
            org_id,
            [t.id for t in _targets(reach) if t.type is TargetKind.WORKSPACE],
        )
        scope = _scope(group_id, reach, workspaces)
        wanted = [(user_id, target) for user_id in user_ids for target in sorted(scope, key=str)]
        before = self._access.records(org_id, wanted)
        # The facts, read after the records they guard (see the module docstring).
        group_exists = self._resources.get(org_id, GROUP_TYPE, group_id) is not None
        reach = self._access.reach_of_group(org_id, group_id)
        if not _scope(group_id, reach, workspaces) <= scope:
            raise StaleVersionError  # a grant on a new target came meanwhile: start again
        derived = group_sources(reach.grants if group_exists else [], workspaces)
        members = (
            self._memberships.existing_members(org_id, group_id, user_ids)
            if group_exists
            else set()
        )
        users = self._resources.get_many(org_id, USER_TYPE, user_ids)
        revocation = self._organizations.settings(org_id).folder_revocation
        # A deleted target's records are its clean-up's (Workspace/Folder.Deleted); a record
        # created on it after that clean-up would outlive it, so creations check the target.
        alive = self._organizations.existing_targets(org_id, sorted(scope, key=str))
        updates: list[Update] = []
        for user_id, target in wanted:
            if target not in alive:
                continue
            record = before.get((user_id, target))
            user = users.get(user_id)
            if user is None and record is None:
                continue  # deleted: nothing to create
            given = derived.get(target, []) if user_id in members and user else []
            sources = rederive_group(
                record.sources if record else (), group_id, given, target, revocation
            )
            active = user_is_active(user) if user else False
            updates.append(_updated(user_id, target, record, sources, active))
        guards = {
            user.id: self._resources.version_check(org_id, USER_TYPE, user.id, user.version)
            for user in users.values()
        }
        checks = {target: self._organizations.target_check(org_id, target) for target in alive}
        return len(self._writer.write(org_id, updates, guards, targets=checks))

    def _revoke_grants(self, org_id: str, group_id: str) -> None:
        grants = self._access.grants_of_group(org_id, group_id)
        for chunk in in_chunks(grants, MAX_TRANSACTION_ITEMS):
            self._access.commit(
                [self._access.revoke_grant_item(org_id, group_id, g.target) for g in chunk]
            )

    @staticmethod
    def _retrying(round_: Callable[[], int]) -> int:
        for _ in range(_ATTEMPTS - 1):
            try:
                return round_()
            except (StaleVersionError, MissingReferenceError):
                continue  # another writer, or a change of the user, came first: read again
        return round_()


def _resume_point(resume_after: str | None) -> tuple[int, Target | None]:
    """(step, target being cleared) of a deleted target's follow-up message."""
    if resume_after is None:
        return 0, None
    step, _, target = resume_after.partition("#")
    kind, _, target_id = target.partition(":")
    return int(step), Target(type=TargetKind(kind), id=target_id)


def _targets(reach: GroupReach) -> list[Target]:
    return [*(grant.target for grant in reach.grants), *reach.revoked]


def _scope(group_id: str, reach: GroupReach, workspaces: Mapping[str, Workspace]) -> set[Target]:
    """Every target where the group gives, or may have left, a source: what its grants and
    tombstones reach (a workspace's home folder with it)."""
    as_grants = [
        GroupGrant(group_id=group_id, target=t, level=Level.VIEWER) for t in _targets(reach)
    ]
    return {target for grant in as_grants for target in grant_reach(grant, workspaces)}


def _updated(
    user_id: str,
    target: Target,
    record: AccessRecord | None,
    sources: tuple[Source, ...],
    active: bool,
) -> Update:
    if record is None:
        return None, AccessRecord(user_id=user_id, target=target, sources=sources, active=active)
    return record, record.model_copy(update={"sources": sources, "active": active})

"""The access fan-out: what each directory or grant event does to users' access records.

Every handler reads the current state (grants, memberships, the user's `active` flag) and rewrites
the records it touches from it, conditioned on the versions it read; events only say where to
look. So a duplicated, late or reordered event changes nothing that a timely one would not, and
a run that fails midway is completed by its retry. Reads come after the records they guard: any
change committed after those reads has its own event, whose handler then sees this one's writes
or fails on their version and recomputes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from provisioning.access.model import AccessRecord, GroupGrant, Level, Source, Target, TargetKind
from provisioning.access.rules import grant_reach, group_sources, rederive_group
from provisioning.access.updates import AccessWriter, Update
from provisioning.events.contract import (
    DomainEvent,
    GroupDeleted,
    GroupGrantChanged,
    GroupMembersChanged,
    UserDeleted,
    UserStatusChanged,
)
from provisioning.scim.resources import GROUP, USER
from provisioning.scim.users import is_active
from provisioning.store.access import AccessStore
from provisioning.store.dynamo import StaleVersionError, in_chunks
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
                changes = self.rederive(event.org_id, event.group_id, users, recheck=event.removed)
                return Outcome(len(users), changes)
            case GroupGrantChanged():
                members = self._memberships.members_after(
                    event.org_id, event.group_id, resume_after, MEMBERS_PER_MESSAGE
                )
                changes = self.rederive(event.org_id, event.group_id, members, [event.target])
                more = len(members) == MEMBERS_PER_MESSAGE
                return Outcome(len(members), changes, members[-1] if more else None)
            case GroupDeleted():
                # Its members lose its sources as the purge removes their memberships (each
                # batch is a Group.MembersChanged); the grants themselves go now.
                self._drop_grants(event.org_id, event.group_id)
                return Outcome(0, 0)
            case UserStatusChanged():
                return Outcome(1, self.refresh_user(event.org_id, event.user_id))
            case UserDeleted():
                return Outcome(1, self.remove_user(event.org_id, event.user_id))
        return Outcome(0, 0)  # a type this version does not act on

    def rederive(
        self,
        org_id: str,
        group_id: str,
        user_ids: Sequence[str],
        hints: Sequence[Target] = (),
        recheck: Collection[str] = (),
    ) -> int:
        """Re-derive what the group gives each user, on the group's current targets, the
        `hints` (a grant just removed) and, for users in `recheck` (they left), every target
        where they hold something from the group. Returns the number of level changes."""
        changes = 0
        for chunk in in_chunks(list(dict.fromkeys(user_ids)), USERS_PER_ROUND):

            def round_(users: Sequence[str] = chunk) -> int:
                return self._rederive_round(org_id, group_id, users, hints, recheck)

            changes += self._retrying(round_)
        return changes

    def refresh_user(self, org_id: str, user_id: str) -> int:
        """Suspend or restore a user's access to match its `active` flag."""

        def round_() -> list[Update]:
            records = self._access.records_of_user(org_id, user_id)
            user = self._resources.get(org_id, USER.name, user_id)
            if user is None:
                return []  # deleted: User.Deleted removes its records
            active = is_active(user)
            return [(r, r.model_copy(update={"active": active})) for r in records]

        return self._retrying_updates(org_id, round_)

    def remove_user(self, org_id: str, user_id: str) -> int:
        """A deleted user loses every record, whatever its sources."""

        def round_() -> list[Update]:
            records = self._access.records_of_user(org_id, user_id)
            return [(r, r.model_copy(update={"sources": ()})) for r in records]

        return self._retrying_updates(org_id, round_)

    # --- rounds ------------------------------------------------------------------------------

    def _rederive_round(
        self,
        org_id: str,
        group_id: str,
        user_ids: Sequence[str],
        hints: Sequence[Target],
        recheck: Collection[str],
    ) -> int:
        scopes = {user_id: set(hints) for user_id in user_ids}
        for user_id in user_ids:
            if user_id in recheck:
                scopes[user_id] |= {
                    r.target
                    for r in self._access.records_of_user(org_id, user_id)
                    if any(source.group_id == group_id for source in r.sources)
                }
        group_exists = self._resources.get(org_id, GROUP.name, group_id) is not None
        grants = self._access.grants_of_group(org_id, group_id) if group_exists else []
        hinted_workspaces = [t.id for t in hints if t.type is TargetKind.WORKSPACE]
        workspaces = self._organizations.workspaces(
            org_id,
            [g.target.id for g in grants if g.target.type is TargetKind.WORKSPACE]
            + hinted_workspaces,
        )
        for hint in hints:  # a removed workspace grant reached the home folder too
            reach = grant_reach(
                GroupGrant(group_id=group_id, target=hint, level=Level.VIEWER), workspaces
            )
            for scope in scopes.values():
                scope.update(reach)
        derived = group_sources(grants, workspaces)
        for scope in scopes.values():
            scope.update(derived)
        revocation = self._organizations.settings(org_id).folder_revocation
        wanted = [(user_id, target) for user_id, scope in scopes.items() for target in scope]
        # Records first, then the facts they are computed from (see the module docstring).
        before = self._access.records(org_id, wanted)
        members = (
            self._memberships.existing_members(org_id, group_id, user_ids)
            if group_exists
            else set()
        )
        users = self._resources.get_many(org_id, USER.name, user_ids)
        updates: list[Update] = []
        for user_id, target in wanted:
            record = before.get((user_id, target))
            user = users.get(user_id)
            if user is None and record is None:
                continue  # deleted: nothing to create
            given = derived.get(target, []) if user_id in members and user else []
            sources = rederive_group(
                record.sources if record else (), group_id, given, target, revocation
            )
            active = is_active(user) if user else False
            updates.append(_updated(user_id, target, record, sources, active))
        return len(self._writer.write(org_id, updates))

    def _drop_grants(self, org_id: str, group_id: str) -> None:
        grants = self._access.grants_of_group(org_id, group_id)
        for chunk in in_chunks(grants, 100):
            self._access.commit(
                [self._access.delete_grant_item(org_id, group_id, g.target) for g in chunk]
            )

    def _retrying_updates(self, org_id: str, compute: Callable[[], list[Update]]) -> int:
        return self._retrying(lambda: len(self._writer.write(org_id, compute())))

    @staticmethod
    def _retrying(round_: Callable[[], int]) -> int:
        for _ in range(_ATTEMPTS - 1):
            try:
                return round_()
            except StaleVersionError:
                continue  # another writer got there first: read again
        return round_()


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

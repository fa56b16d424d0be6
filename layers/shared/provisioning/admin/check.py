"""The consistency check: every invariant of one organization's items, verified from the sources
of truth, and optionally repaired from them.

Invariants (the item layouts are in the store modules' docstrings):

Resources, guards and counters (truth: the resources)
- `orphan_guard`: every uniqueness guard `UNIQUE#<Kind>#<attribute>#<key>` names (`ownerId`) a
  resource that exists, and
- `stale_guard`: that resource's current value of the attribute has that key.
- `missing_guard`: every unique value of a resource (userName / externalId of a user,
  displayName / externalId of a group) has its guard, naming the resource;
- `duplicate_value`: no two resources hold one unique value (not repaired: which one keeps it
  is an admin's decision).
- `resource_index_mismatch`: a resource item carries its unique values' index keys (GSI1 for
  the first unique attribute, GSI2 for the second), which `eq` filters read.
- `counter_mismatch`: `COUNT#<Kind>` equals the number of resources of the kind.

Memberships and grants (truth: the resources, workspaces and folders)
- `membership_of_deleted_user`, `membership_of_deleted_group`: every membership names a user
  and a group that exist, unless a purge task of the deleted one still removes it (the task is
  the deletion's own, pending, clean-up).
- `membership_index_mismatch`: a membership item carries its user→groups index keys (GSI1).
- `grant_on_deleted_target`: every group grant or grant tombstone names a workspace or folder
  that exists.
- `grant_of_deleted_group`: a grant with a level belongs to a group that exists (a deleted
  group's grants are tombstones).
- `grant_index_mismatch`: a grant carries its target index keys (GSI2: `GRANTS#` with a level,
  `REVOKED#` as a tombstone).
- `folder_of_deleted_workspace`: every folder's workspace exists.

Access records (truth: the users, their memberships, the groups' grants, the records' direct
sources and the organization's `folderRevocation`)
- `access_missing`, `access_extra`, `access_wrong_level`, `access_stale_sources`: a live
  user's records are exactly what `provisioning.access.expected` derives: group sources from
  the grants of the live groups the user is a member of (a workspace grant reaching its home
  folder), direct sources as recorded, `retained` sources only on folders under
  `folderRevocation: manual`; the record's `active` flag is the user's, and its stored level and
  index keys are the ones its sources give.
- `access_on_deleted_target`: no record names a workspace or folder that does not exist.
- `access_of_deleted_user`: no record belongs to a user that does not exist.

What no Query can find is not checked: a membership whose user and group are both gone without
a purge task, and a record whose user and target are both gone (neither partition is reachable
from anything that exists). Items of a change in flight (an outbox event the fan-out has not
applied yet) show as violations until it is applied; a repair writes what the fan-out will
write, so the two agree.

Every repair is a transaction conditioned on what it was decided on (the resource's version, a
record's version, the continued absence of a deleted resource or target), so it never
overwrites a concurrent change: a repair that loses is reported unrepaired, and the next check
decides again. Access repairs carry the Access.Granted / Access.Revoked events the fan-out would
have emitted for the change of level they make.

The walk is resumable: it goes stage by stage, page by page, and returns a cursor when its time
budget is spent (a request must end within API Gateway's 29 s).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scim2_models import UniquenessException

from provisioning import clients
from provisioning.access.errors import InvalidInputError, NotFoundError
from provisioning.access.expected import UserFacts, expected_records, same_sources
from provisioning.access.model import (
    AccessRecord,
    FolderRevocation,
    GroupGrant,
    Level,
    Target,
    TargetKind,
)
from provisioning.access.updates import access_events
from provisioning.events.contract import (
    AccessChange,
    GroupMembersChanged,
    WorkspaceDeleted,
)
from provisioning.kinds import user_is_active
from provisioning.scim.resources import GROUP, USER, ResourceKind
from provisioning.settings import Settings, get_settings
from provisioning.store.access import REVOKED_GRANT_RETENTION
from provisioning.store.consistency import (
    ConsistencyStore,
    ItemKey,
    StoredGrant,
    StoredRecord,
    Targets,
    counter_key,
    grant_key,
    guard_key,
    membership_key,
    record_key,
    resource_key,
    target_key,
    unique_index_attributes,
)
from provisioning.store.dynamo import MissingReferenceError, StaleVersionError
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import StoredResource, UniqueValue

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# A request's default time budget: API Gateway ends a request at 29 s, and a page of the walk
# (at most one user's records, or a page of guards) takes well under a second.
DEFAULT_BUDGET_SECONDS = 15.0
MAX_BUDGET_SECONDS = 20.0
GUARDS_PER_PAGE = 100
RESOURCES_PER_PAGE = 100
USERS_PER_PAGE = 25
GROUPS_PER_PAGE = 50
MEMBERS_PER_PAGE = 500
HOLDERS_PER_PAGE = 500
# How often a counter is recounted when it changed while it was being counted.
_COUNT_ATTEMPTS = 3


class ViolationKind(StrEnum):
    ORPHAN_GUARD = "orphan_guard"
    STALE_GUARD = "stale_guard"
    MISSING_GUARD = "missing_guard"
    DUPLICATE_VALUE = "duplicate_value"
    RESOURCE_INDEX_MISMATCH = "resource_index_mismatch"
    COUNTER_MISMATCH = "counter_mismatch"
    MEMBERSHIP_OF_DELETED_USER = "membership_of_deleted_user"
    MEMBERSHIP_OF_DELETED_GROUP = "membership_of_deleted_group"
    MEMBERSHIP_INDEX_MISMATCH = "membership_index_mismatch"
    GRANT_ON_DELETED_TARGET = "grant_on_deleted_target"
    GRANT_OF_DELETED_GROUP = "grant_of_deleted_group"
    GRANT_INDEX_MISMATCH = "grant_index_mismatch"
    FOLDER_OF_DELETED_WORKSPACE = "folder_of_deleted_workspace"
    ACCESS_MISSING = "access_missing"
    ACCESS_EXTRA = "access_extra"
    ACCESS_WRONG_LEVEL = "access_wrong_level"
    ACCESS_STALE_SOURCES = "access_stale_sources"
    ACCESS_ON_DELETED_TARGET = "access_on_deleted_target"
    ACCESS_OF_DELETED_USER = "access_of_deleted_user"


class Violation(BaseModel):
    """One item that breaks an invariant: its keys, and what the source of truth says."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    kind: ViolationKind
    item: ItemKey
    truth: str
    repaired: bool = False


@dataclass
class CheckResult:
    """What one request of the check found (and repaired), and where the next one goes on."""

    org_id: str
    violations: list[Violation] = field(default_factory=list)
    cursor: str | None = None
    # Invariants this pass could not decide (a counter that kept changing while counted).
    unverified: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Judged:
    """One of a live user's records (or its absence) on one target."""

    user: StoredResource
    target: Target
    alive: bool
    stored: StoredRecord | None


class _Position(BaseModel):
    """Where the walk goes on: a stage, the last unit done in it, and a stage's own state."""

    model_config = ConfigDict(extra="forbid")

    stage: int = Field(default=0, ge=0)
    after: str | None = None
    inner: Any = None
    count: int = 0
    seen: int | None = None
    attempt: int = 0


def encode_cursor(position: _Position) -> str:
    raw = position.model_dump_json(exclude_defaults=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> _Position:
    if not cursor:
        return _Position()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _Position.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError):
        raise InvalidInputError("the cursor is not one this check returned") from None


def _unique_values(kind: ResourceKind, body: dict[str, Any]) -> list[UniqueValue | None]:
    """The resource's unique values by their comparison keys (the SCIM service's rule)."""
    values: list[UniqueValue | None] = []
    for unique in kind.unique:
        value = body.get(unique.name)
        values.append(UniqueValue(unique.name, unique.key(value)) if value else None)
    return values


class _Pass:
    """One request's share of the walk, with what it read once for all its units."""

    def __init__(self, store: ConsistencyStore, org_id: str, repair: bool) -> None:
        self.store = store
        self.org_id = org_id
        self.repair = repair
        self.violations: list[Violation] = []
        self.unverified: list[str] = []
        self._targets: Targets | None = None
        self._alive: frozenset[Target] | None = None
        self._revocation: FolderRevocation | None = None
        self._tasks: set[tuple[str, str]] | None = None
        self._groups_alive: dict[str, bool] = {}
        self._grants: dict[str, list[StoredGrant]] = {}

    # --- what every unit may need, read once per request -------------------------------------

    @property
    def targets(self) -> Targets:
        if self._targets is None:
            self._targets = self.store.targets(self.org_id)
        return self._targets

    @property
    def alive(self) -> frozenset[Target]:
        """The workspaces and folders that exist."""
        if self._alive is None:
            self._alive = self.targets.alive()
        return self._alive

    @property
    def revocation(self) -> FolderRevocation:
        if self._revocation is None:
            self._revocation = self.store.settings_revocation(self.org_id)
        return self._revocation

    def purging(self, kind: str, resource_id: str) -> bool:
        if self._tasks is None:
            self._tasks = self.store.purge_tasks(self.org_id)
        return (kind, resource_id) in self._tasks

    def groups_alive(self, group_ids: Sequence[str]) -> set[str]:
        unknown = [g for g in dict.fromkeys(group_ids) if g not in self._groups_alive]
        if unknown:
            found = self.store.existing(self.org_id, GROUP.name, unknown)
            self._groups_alive.update({g: g in found for g in unknown})
        return {g for g in group_ids if self._groups_alive[g]}

    def grants(self, group_id: str, fresh: bool = False) -> list[StoredGrant]:
        if fresh or group_id not in self._grants:
            self._grants[group_id] = self.store.grants(self.org_id, group_id)
        return self._grants[group_id]

    # --- reporting and repairing -------------------------------------------------------------

    def found(
        self,
        kind: ViolationKind,
        item: ItemKey,
        truth: str,
        repair: Sequence[TransactWriteItemTypeDef] = (),
    ) -> None:
        """Report a violation; in a repair, commit its repair (one transaction, conditioned on
        what it was decided on) unless a concurrent change makes a condition fail."""
        repaired = False
        if self.repair and repair:
            try:
                self.store.commit(repair)
                repaired = True
            except (StaleVersionError, MissingReferenceError, UniquenessException):
                truth += " (not repaired: it changed meanwhile; check again)"
        self.violations.append(Violation(kind=kind, item=item, truth=truth, repaired=repaired))


class ConsistencyCheck:
    """Checks (and repairs) one organization's items, a budget of time per call."""

    def __init__(
        self,
        store: ConsistencyStore,
        table_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._table = table_name
        self._clock = clock
        self._stages: list[Callable[[_Pass, _Position], bool]] = [
            lambda p, at: self._guards(p, at, USER),
            lambda p, at: self._guards(p, at, GROUP),
            lambda p, at: self._resources(p, at, USER),
            lambda p, at: self._resources(p, at, GROUP),
            lambda p, at: self._counter(p, at, USER),
            lambda p, at: self._counter(p, at, GROUP),
            self._memberships,
            self._users_access,
            lambda p, at: self._target_references(p, at, TargetKind.WORKSPACE),
            lambda p, at: self._target_references(p, at, TargetKind.FOLDER),
        ]

    @classmethod
    def build(cls, settings: Settings | None = None) -> ConsistencyCheck:
        settings = settings or get_settings()
        return cls(ConsistencyStore(clients.dynamodb(), settings.table_name), settings.table_name)

    def run(
        self,
        org_id: str,
        cursor: str | None = None,
        repair: bool = False,
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
    ) -> CheckResult:
        """Go on from `cursor` (None: the start) until the walk ends or `budget_seconds` are
        spent (at least one unit of work is done, so every call makes progress)."""
        position = decode_cursor(cursor)
        if position.stage == 0 and position.after is None and position.inner is None:
            self._require_organization(org_id)
        deadline = self._clock() + budget_seconds
        current = _Pass(self._store, org_id, repair)
        while position.stage < len(self._stages):
            if self._stages[position.stage](current, position):
                position = _Position(stage=position.stage + 1)
            if self._clock() >= deadline:
                break
        done = position.stage >= len(self._stages)
        return CheckResult(
            org_id,
            current.violations,
            None if done else encode_cursor(position),
            current.unverified,
        )

    def _require_organization(self, org_id: str) -> None:
        if not self._store.organization_exists(org_id):
            raise NotFoundError(f"organization {org_id} not found")

    # --- guards ------------------------------------------------------------------------------

    def _guards(self, current: _Pass, at: _Position, kind: ResourceKind) -> bool:
        """One page of a kind's guards: each must name a resource holding its value."""
        org = current.org_id
        guards = self._store.guards(org, kind.name, at.after, GUARDS_PER_PAGE)
        owners = self._store.get_resources(org, kind.name, [g.owner_id for g in guards])
        for guard in guards:
            owner = owners.get(guard.owner_id)
            item = {"pk": f"ORG#{org}", "sk": guard.sk}
            if owner is None:
                current.found(
                    ViolationKind.ORPHAN_GUARD,
                    item,
                    f"{kind.name} {guard.owner_id} does not exist",
                    self._store.drop_guard_items(org, guard, None),
                )
                continue
            if UniqueValue(guard.attribute, guard.key) not in _unique_values(kind, owner.body):
                held = owner.body.get(guard.attribute)
                current.found(
                    ViolationKind.STALE_GUARD,
                    item,
                    f"{kind.name} {owner.id} holds {guard.attribute} {held!r} now",
                    self._store.drop_guard_items(org, guard, owner.version),
                )
        at.after = guards[-1].sk if guards else None
        return len(guards) < GUARDS_PER_PAGE

    # --- resources ---------------------------------------------------------------------------

    def _resources(self, current: _Pass, at: _Position, kind: ResourceKind) -> bool:
        """One page of a kind's resources: their guards and index keys."""
        org = current.org_id
        page = self._store.resources(org, kind.name, at.after, RESOURCES_PER_PAGE)
        values = {item.resource.id: _unique_values(kind, item.resource.body) for item in page}
        every = [v for held in values.values() for v in held if v]
        owners = self._store.guard_owners(org, kind.name, every)
        others = {owner for value, owner in owners.items() if owner not in values}
        holders = {item.resource.id: item.resource for item in page}
        holders.update(self._store.get_resources(org, kind.name, sorted(others)))
        for item in page:
            resource = item.resource
            wanted = unique_index_attributes(org, kind.name, values[resource.id])
            if item.indexes != wanted:
                current.found(
                    ViolationKind.RESOURCE_INDEX_MISMATCH,
                    resource_key(org, kind.name, resource.id),
                    f"its unique values' index keys are {wanted}",
                    [self._store.reindex_resource_item(org, kind.name, resource, wanted)],
                )
            for value in values[resource.id]:
                if value is None:
                    continue
                self._resource_guard(current, kind, resource, value, owners.get(value), holders)
        at.after = page[-1].resource.id if page else None
        return len(page) < RESOURCES_PER_PAGE

    def _resource_guard(
        self,
        current: _Pass,
        kind: ResourceKind,
        resource: StoredResource,
        value: UniqueValue,
        owner: str | None,
        holders: dict[str, StoredResource],
    ) -> None:
        org = current.org_id
        if owner == resource.id:
            return
        other = holders.get(owner) if owner else None
        if other is not None and value in _unique_values(kind, other.body):
            # Both hold the value: a duplicate, reported once (by the one without the guard).
            current.found(
                ViolationKind.DUPLICATE_VALUE,
                resource_key(org, kind.name, resource.id),
                f"{kind.name} {other.id} holds the same {value.attribute}; an admin decides",
            )
            return
        truth = f"{kind.name} {resource.id} holds {value.attribute} {value.key!r}"
        if owner is not None:
            truth += f" (the guard names {owner}, which does not hold it)"
        current.found(
            ViolationKind.MISSING_GUARD,
            guard_key(org, kind.name, value),
            truth,
            self._store.claim_guard_items(org, kind.name, value, resource),
        )

    # --- counters ----------------------------------------------------------------------------

    def _counter(self, current: _Pass, at: _Position, kind: ResourceKind) -> bool:
        """One 1 MB page of a kind's count; at the end, the count against the counter. A
        counter that changed while counted is counted again."""
        org = current.org_id
        if at.after is None and at.count == 0:
            at.seen = self._store.counter(org, kind.name)
        counted, at.after = self._store.count(org, kind.name, at.after)
        at.count += counted
        if at.after is not None:
            return False
        now = self._store.counter(org, kind.name)
        if now != at.seen:
            if at.attempt + 1 < _COUNT_ATTEMPTS:
                at.attempt, at.count, at.seen = at.attempt + 1, 0, None
                return False
            current.unverified.append(f"COUNT#{kind.name} kept changing while it was counted")
            return True
        if (now or 0) != at.count:
            current.found(
                ViolationKind.COUNTER_MISMATCH,
                counter_key(org, kind.name),
                f"{at.count} {kind.name} resources exist; the counter says {now or 0}",
                [self._store.set_counter_item(org, kind.name, at.count, now)],
            )
        return True

    # --- memberships and grants, group by group ----------------------------------------------

    def _memberships(self, current: _Pass, at: _Position) -> bool:
        """One group's grants (first time) and one page of its members. `after` is the last
        group done; `inner` the group under way and the last member done in it."""
        org = current.org_id
        if at.inner is None:
            following = self._store.resource_ids(org, GROUP.name, at.after, 1)
            if not following:
                return True
            group_id, after_user = following[0], None
            self._group_grants(current, group_id)
        else:
            group_id, after_user = at.inner
        members = self._store.members(org, group_id, after_user, MEMBERS_PER_PAGE)
        alive = self._store.existing(org, USER.name, [m.user_id for m in members])
        for member in members:
            item = membership_key(org, group_id, member.user_id)
            if member.user_id not in alive:
                if not current.purging(USER.name, member.user_id):
                    current.found(
                        ViolationKind.MEMBERSHIP_OF_DELETED_USER,
                        item,
                        f"user {member.user_id} does not exist",
                        self._store.drop_membership_items(
                            org, group_id, member.user_id, USER.name, member.user_id
                        ),
                    )
            elif not member.consistent:
                current.found(
                    ViolationKind.MEMBERSHIP_INDEX_MISMATCH,
                    item,
                    f"its user→groups index keys name user {member.user_id}, group {group_id}",
                    [self._store.reindex_membership_item(org, group_id, member.user_id)],
                )
        if len(members) == MEMBERS_PER_PAGE:
            at.inner = [group_id, members[-1].user_id]
        else:
            at.after, at.inner = group_id, None
        return False

    def _group_grants(self, current: _Pass, group_id: str) -> None:
        org = current.org_id
        for grant in current.grants(group_id):
            item = grant_key(org, group_id, grant.target)
            if grant.target not in current.alive:
                current.found(
                    ViolationKind.GRANT_ON_DELETED_TARGET,
                    item,
                    f"{grant.target.type.value} {grant.target.id} does not exist",
                    self._store.drop_grant_items(org, grant, grant.target),
                )
            elif not grant.consistent:
                current.found(
                    ViolationKind.GRANT_INDEX_MISMATCH,
                    item,
                    "its target index keys name the grant's target and group",
                    [self._store.reindex_grant_item(org, grant)],
                )

    # --- users' access -----------------------------------------------------------------------

    def _users_access(self, current: _Pass, at: _Position) -> bool:
        """A page of users: each one's memberships of deleted groups, then its records against
        the truth."""
        org = current.org_id
        page = self._store.resources(org, USER.name, at.after, USERS_PER_PAGE)
        for stored in page:
            user = stored.resource
            groups = self._store.groups_of_user(org, user.id)
            self._user_groups(current, user.id, groups)
            if self._compare(current, user, groups):
                # Confirmed on fresh reads (the user, its groups' grants, its records) before
                # a report: a grant read earlier in this request may have changed since.
                now = self._store.get_resources(org, USER.name, [user.id]).get(user.id)
                if now is not None:
                    for report in self._compare(current, now, None):
                        report()
        at.after = page[-1].resource.id if page else None
        return len(page) < USERS_PER_PAGE

    def _user_groups(self, current: _Pass, user_id: str, groups: Sequence[str]) -> None:
        """The user's memberships of deleted groups (found from the user's side, as a deleted
        group's partition is not listed anywhere)."""
        org = current.org_id
        alive = current.groups_alive(groups)
        gone = [g for g in groups if g not in alive and not current.purging(GROUP.name, g)]
        for group_id in sorted(self._store.memberships_present(org, user_id, gone)):
            # The purge's own event for a removed membership of a deleted group.
            event = GroupMembersChanged(org_id=org, group_id=group_id, removed=[user_id])
            current.found(
                ViolationKind.MEMBERSHIP_OF_DELETED_GROUP,
                membership_key(org, group_id, user_id),
                f"group {group_id} does not exist",
                [
                    *self._store.drop_membership_items(
                        org, group_id, user_id, GROUP.name, group_id
                    ),
                    outbox_item(self._table, event),
                ],
            )

    def _compare(
        self, current: _Pass, user: StoredResource, groups: Sequence[str] | None
    ) -> list[Callable[[], None]]:
        """The user's records against what the truth derives; returns a report (with its
        repair) per record that differs, to run once confirmed. With the user's `groups` as
        read by the walk, facts this request read earlier are reused; without, every fact is
        read fresh."""
        org = current.org_id
        fresh = groups is None
        records = {r.record.target: r for r in self._store.records_of_user(org, user.id)}
        # The facts are read after the records they judge (as the fan-out does): a change
        # committed after these reads comes with an event whose handling sees any repair.
        targets = self._store.targets(org) if fresh else current.targets
        alive = targets.alive() if fresh else current.alive
        if groups is None:
            groups = self._store.groups_of_user(org, user.id)
        candidates = set(groups)
        candidates |= {
            s.group_id
            for r in records.values()
            for s in r.record.sources
            if s.type == "group" and s.group_id
        }
        alive_groups = (
            self._store.existing(org, GROUP.name, sorted(candidates))
            if fresh
            else current.groups_alive(sorted(candidates))
        )
        member_of = self._store.memberships_present(org, user.id, sorted(alive_groups))
        grants: dict[str, list[GroupGrant]] = {}
        for group_id in sorted(member_of):
            stored = current.grants(group_id, fresh)
            grants[group_id] = [
                GroupGrant(group_id=group_id, target=g.target, level=g.level)
                for g in stored
                if g.level is not None
            ]
        facts = UserFacts(
            user_id=user.id,
            active=user_is_active(user),
            grants=grants,
            workspaces=targets.workspaces,
            alive=alive,
            revocation=self._store.settings_revocation(org) if fresh else current.revocation,
        )
        expected = expected_records(facts, {t: r.record for t, r in records.items()})
        reports: list[Callable[[], None]] = []
        for target in sorted({*expected, *records}, key=str):
            judged = _Judged(user, target, target in alive, records.get(target))
            report = self._judge(current, judged, expected.get(target))
            if report is not None:
                reports.append(report)
        return reports

    def _judge(
        self, current: _Pass, judged: _Judged, wanted: AccessRecord | None
    ) -> Callable[[], None] | None:
        """The report to make about one of the user's records, if it is not as `wanted`."""
        org = current.org_id
        user, target, stored = judged.user, judged.target, judged.stored
        item = record_key(org, user.id, target)
        if not judged.alive:
            if stored is None:
                return None
            repair = [
                self._store.drop_record_item(org, stored.record),
                *self._events(org, [_change(stored, None)]),
            ]
            truth = f"{target.type.value} {target.id} does not exist"
            kind = ViolationKind.ACCESS_ON_DELETED_TARGET
            return lambda: current.found(kind, item, truth, repair)
        has = stored is not None and bool(stored.record.sources)
        if wanted is None:
            if not has:
                if stored is None or stored.consistent:
                    return None
                kind = ViolationKind.ACCESS_WRONG_LEVEL
                truth = "a record without sources gives no level"
            else:
                kind = ViolationKind.ACCESS_EXTRA
                truth = "nothing gives the user access"
            empty = AccessRecord(user_id=user.id, target=target, active=user_is_active(user))
            return self._rewrite(current, user, item, kind, truth, stored, empty)
        if not has:
            kind, truth = ViolationKind.ACCESS_MISSING, f"{_describe(wanted)} is due"
        elif stored is not None and stored.stored_level != wanted.level:
            kind, truth = ViolationKind.ACCESS_WRONG_LEVEL, f"{_describe(wanted)} is due"
        elif (
            stored is not None
            and same_sources(stored.record.sources, wanted.sources)
            and (stored.record.active == wanted.active)
            and stored.consistent
        ):
            return None
        else:
            kind, truth = ViolationKind.ACCESS_STALE_SOURCES, f"{_describe(wanted)} is due"
        return self._rewrite(current, user, item, kind, truth, stored, wanted)

    def _rewrite(
        self,
        current: _Pass,
        user: StoredResource,
        item: ItemKey,
        kind: ViolationKind,
        truth: str,
        stored: StoredRecord | None,
        wanted: AccessRecord,
    ) -> Callable[[], None]:
        """The report of a record to rewrite as `wanted`, conditioned on the record and the
        user as read (and on the target's existence where the record is created)."""
        org = current.org_id
        before = stored.record if stored else None
        repair = [
            self._store.write_record_item(org, before, wanted),
            self._store.user_condition(org, user.id, user.version),
        ]
        if before is None:
            repair.append(self._store.target_present(org, wanted.target))
        repair += self._events(org, [_change(stored, wanted)])
        return lambda: current.found(kind, item, truth, repair)

    # --- references to targets: deleted users' records, deleted groups' grants -------------

    def _target_references(self, current: _Pass, at: _Position, kind: TargetKind) -> bool:
        """One target's deleted groups' grants and folder's workspace (first time), and one
        page of the users holding a record on it."""
        org = current.org_id
        if at.inner is None:
            following = self._store.target_page(org, kind, at.after, 1)
            if not following:
                return True
            target, position = following[0], None
            self._target_start(current, target)
        else:
            target = Target(type=kind, id=at.inner[0])
            position = at.inner[1]
        users, position = self._store.record_holders(org, target, position, HOLDERS_PER_PAGE)
        alive = self._store.existing(org, USER.name, users)
        gone = [u for u in users if u not in alive]
        for stored in self._store.records(org, [(u, target) for u in gone]):
            record = stored.record
            current.found(
                ViolationKind.ACCESS_OF_DELETED_USER,
                record_key(org, record.user_id, target),
                f"user {record.user_id} does not exist",
                [
                    self._store.drop_record_item(org, record),
                    self._store.user_condition(org, record.user_id, None),
                    *self._events(org, [_change(stored, None)]),
                ],
            )
        if position is not None:
            at.inner = [target.id, position]
        else:
            at.after, at.inner = target.id, None
        return False

    def _target_start(self, current: _Pass, target: Target) -> None:
        org = current.org_id
        granting = self._store.groups_granting(org, target)
        alive = current.groups_alive(granting)
        for group_id in [g for g in granting if g not in alive]:
            grant = next((g for g in self._store.grants(org, group_id) if g.target == target), None)
            if grant is None or grant.level is None:
                continue
            expires = int((datetime.now(UTC) + REVOKED_GRANT_RETENTION).timestamp())
            current.found(
                ViolationKind.GRANT_OF_DELETED_GROUP,
                grant_key(org, group_id, target),
                f"group {group_id} does not exist; its grants are tombstones",
                self._store.retire_grant_items(org, grant, expires),
            )
        if target.type is TargetKind.FOLDER:
            folder = current.targets.folders.get(target.id)
            if folder is not None and folder.workspace_id not in current.targets.workspaces:
                # Re-emitting Workspace.Deleted has the fan-out clear the workspace's folders,
                # their grants and records (its clean-up is idempotent).
                event = WorkspaceDeleted(org_id=org, workspace_id=folder.workspace_id)
                current.found(
                    ViolationKind.FOLDER_OF_DELETED_WORKSPACE,
                    target_key(org, target),
                    f"workspace {folder.workspace_id} does not exist; its clean-up is due",
                    [
                        self._store.workspace_absent(org, folder.workspace_id),
                        outbox_item(self._table, event),
                    ],
                )

    # --- events ------------------------------------------------------------------------------

    def _events(
        self, org_id: str, changes: Sequence[AccessChange | None]
    ) -> list[TransactWriteItemTypeDef]:
        return access_events(self._table, org_id, changes)


def _change(stored: StoredRecord | None, after: AccessRecord | None) -> AccessChange | None:
    """The change of level a repair makes, from the level the item carried (what readers of
    the index saw) to the one it will carry."""
    old: Level | None = stored.stored_level if stored else None
    new = after.level if after else None
    if old == new:
        return None
    record = after or (stored.record if stored else None)
    assert record is not None
    return AccessChange(user_id=record.user_id, target=record.target, level=new, previous_level=old)


def _describe(record: AccessRecord) -> str:
    sources = ", ".join(
        f"{s.type}{' ' + s.group_id if s.group_id else ''} {s.level.value}" for s in record.sources
    )
    level = record.level.value if record.level else "no level (inactive)"
    return f"{level} from {sources}"


def summarize(violations: Sequence[Violation]) -> dict[str, dict[str, int]]:
    """Violations per kind: found, and repaired."""
    summary: dict[str, dict[str, int]] = {}
    for violation in violations:
        counts = summary.setdefault(violation.kind.value, {"found": 0, "repaired": 0})
        counts["found"] += 1
        counts["repaired"] += int(violation.repaired)
    return summary


def dumps(result: CheckResult) -> dict[str, Any]:
    """The JSON of one request's result."""
    return {
        "orgId": result.org_id,
        "violations": [v.model_dump(mode="json") for v in result.violations],
        "summary": summarize(result.violations),
        "unverified": result.unverified,
        "next": result.cursor,
    }


__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "MAX_BUDGET_SECONDS",
    "CheckResult",
    "ConsistencyCheck",
    "Violation",
    "ViolationKind",
    "dumps",
]

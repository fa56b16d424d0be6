"""What a user's access records should hold, derived from the sources of truth: the consistency
check's rules, as pure functions over the access model (no I/O).

They apply the fan-out's own rules (`provisioning.access.rules`) to the whole of a user's state
at once, instead of one event's part of it, so the records the check expects are exactly the ones
the fan-out would have written had every event been applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioning.access.model import (
    AccessRecord,
    FolderRevocation,
    GroupGrant,
    Source,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.access.rules import group_sources, rederive_group


@dataclass(frozen=True)
class UserFacts:
    """The sources of truth about one live user's access.

    `grants` holds the grants of the live groups the user is a member of (memberships confirmed),
    `alive` the workspaces and folders that exist."""

    user_id: str
    active: bool
    grants: Mapping[str, Sequence[GroupGrant]]
    workspaces: Mapping[str, Workspace]
    alive: frozenset[Target]
    revocation: FolderRevocation


def given_by_groups(facts: UserFacts) -> dict[Target, dict[str, list[Source]]]:
    """The group sources the user's groups give, by live target, then by group."""
    given: dict[Target, dict[str, list[Source]]] = {}
    for group_id, grants in facts.grants.items():
        for target, sources in group_sources(grants, facts.workspaces).items():
            if target in facts.alive:
                given.setdefault(target, {})[group_id] = sources
    return given


def expected_sources(
    existing: Sequence[Source],
    given: Mapping[str, Sequence[Source]],
    target: Target,
    revocation: FolderRevocation,
) -> tuple[Source, ...]:
    """A target's sources once every group's part is what the groups give now (`given`, by
    group): direct sources stay as they are (an admin's grant is its own truth); group sources
    are re-derived for every group that gives or gave one; a `retained` source is legitimate
    only on a folder under `folderRevocation: manual`."""
    groups = {s.group_id for s in existing if s.type == "group" and s.group_id} | set(given)
    sources = tuple(existing)
    for group_id in sorted(groups):
        sources = rederive_group(sources, group_id, given.get(group_id, []), target, revocation)
    if revocation is FolderRevocation.AUTOMATIC or target.type is TargetKind.WORKSPACE:
        sources = tuple(s for s in sources if s.type != "retained")
    return sources


def expected_records(
    facts: UserFacts, records: Mapping[Target, AccessRecord]
) -> dict[Target, AccessRecord]:
    """Every record the user should have with sources, by live target (a target missing here
    should have no record, or one without sources)."""
    given = given_by_groups(facts)
    expected: dict[Target, AccessRecord] = {}
    for target in sorted({*given, *records}, key=str):
        if target not in facts.alive:
            continue
        record = records.get(target)
        existing = record.sources if record else ()
        sources = expected_sources(existing, given.get(target, {}), target, facts.revocation)
        if sources:
            expected[target] = AccessRecord(
                user_id=facts.user_id, target=target, sources=sources, active=facts.active
            )
    return expected


def same_sources(left: Iterable[Source], right: Iterable[Source]) -> bool:
    """Whether two lists of sources say the same (order is storage detail)."""
    return set(left) == set(right)

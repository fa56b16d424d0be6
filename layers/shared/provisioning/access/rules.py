"""The rules of access, as pure functions over the access model.

Every change is expressed the same way: the sources of one user's access to one target are
rewritten, and the effective level follows from them (`AccessRecord.level`). A group's sources are
re-derived from its current grants and the user's current membership, never patched by deltas,
so applying a change twice, late or out of order ends in the same state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from provisioning.access.model import (
    AccessRecord,
    FolderRevocation,
    GroupGrant,
    Level,
    Source,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.events.contract import AccessChange


def grant_reach(grant: GroupGrant, workspaces: Mapping[str, Workspace]) -> list[Target]:
    """Where a group grant gives access: its target, and a workspace's home folder with it."""
    reach = [grant.target]
    if grant.target.type is TargetKind.WORKSPACE:
        workspace = workspaces.get(grant.target.id)
        if workspace is not None:
            reach.append(Target(type=TargetKind.FOLDER, id=workspace.home_folder_id))
    return reach


def group_sources(
    grants: Iterable[GroupGrant], workspaces: Mapping[str, Workspace]
) -> dict[Target, list[Source]]:
    """What a group's grants give each of its members, by target."""
    by_target: dict[Target, list[Source]] = {}
    for grant in grants:
        source = Source(type="group", level=grant.level, group_id=grant.group_id, via=grant.target)
        for target in grant_reach(grant, workspaces):
            by_target.setdefault(target, []).append(source)
    return by_target


def rederive_group(
    sources: Sequence[Source],
    group_id: str,
    derived: Sequence[Source],
    target: Target,
    revocation: FolderRevocation,
) -> tuple[Source, ...]:
    """The target's sources once what `group_id` gives on it is exactly `derived`.

    Under `folderRevocation: manual` a folder source the group no longer gives becomes a
    `retained` source (Taskade keeps such members until an admin removes them); when the group
    gives it again, the group source supersedes the retained one."""
    given = {source.identity for source in derived}
    kept: list[Source] = []
    lost: list[Source] = []
    for source in sources:
        if source.group_id != group_id or source.type == "direct":
            kept.append(source)
        elif source.type == "group":
            if source.identity not in given:
                lost.append(source)
        elif ("group", group_id, str(source.via) if source.via else None) not in given:
            kept.append(source)  # retained, and the group does not give it again
    if revocation is FolderRevocation.MANUAL and target.type is TargetKind.FOLDER:
        retained = [source.model_copy(update={"type": "retained"}) for source in lost]
        return _merge(_merge(kept, retained), derived)
    return _merge(kept, derived)


def with_direct(sources: Sequence[Source], level: Level | None) -> tuple[Source, ...]:
    """The sources once an admin set the user's direct level (None: the admin removes the user,
    which also ends access retained from a group)."""
    others = [source for source in sources if source.type == "group"]
    if level is None:
        return _merge(others, [])
    return _merge(
        [source for source in sources if source.type != "direct"],
        [Source(type="direct", level=level)],
    )


def _merge(base: Iterable[Source], newer: Iterable[Source]) -> tuple[Source, ...]:
    """One source per identity (the newer wins), in a stable order."""
    merged = {source.identity: source for source in base}
    merged.update({source.identity: source for source in newer})
    return tuple(sorted(merged.values(), key=lambda source: tuple(map(str, source.identity))))


def change_of(before: AccessRecord | None, after: AccessRecord | None) -> AccessChange | None:
    """The change of effective level between two states of one record, if any."""
    old = before.level if before else None
    new = after.level if after else None
    if old == new:
        return None
    record = after or before
    assert record is not None
    return AccessChange(user_id=record.user_id, target=record.target, level=new, previous_level=old)

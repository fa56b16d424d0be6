"""The pure access rules: levels, group re-derivation, folder retention, direct grants."""

from __future__ import annotations

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
from provisioning.access.rules import (
    change_of,
    grant_reach,
    group_sources,
    rederive_group,
    with_direct,
)

WORKSPACE = Target(type=TargetKind.WORKSPACE, id="w1")
HOME = Target(type=TargetKind.FOLDER, id="home1")
FOLDER = Target(type=TargetKind.FOLDER, id="f1")
WORKSPACES = {"w1": Workspace(id="w1", name="Sales", home_folder_id="home1")}


def group_source(group: str, level: Level, via: Target) -> Source:
    return Source(type="group", level=level, group_id=group, via=via)


def test_levels_are_ordered_viewer_checker_editor():
    assert Level.VIEWER.rank < Level.CHECKER.rank < Level.EDITOR.rank


def test_effective_level_is_the_highest_source():
    record = AccessRecord(
        user_id="u",
        target=FOLDER,
        sources=(group_source("g1", Level.VIEWER, FOLDER), Source(type="direct", level="checker")),
    )
    assert record.level is Level.CHECKER


def test_inactive_user_has_no_effective_level_but_keeps_its_sources():
    record = AccessRecord(
        user_id="u", target=FOLDER, sources=(group_source("g", Level.EDITOR, FOLDER),), active=False
    )
    assert record.level is None
    assert len(record.sources) == 1


def test_a_workspace_grant_reaches_its_home_folder():
    grant = GroupGrant(group_id="g", target=WORKSPACE, level=Level.EDITOR)
    assert grant_reach(grant, WORKSPACES) == [WORKSPACE, HOME]


def test_a_folder_grant_reaches_only_that_folder():
    grant = GroupGrant(group_id="g", target=FOLDER, level=Level.VIEWER)
    assert grant_reach(grant, WORKSPACES) == [FOLDER]


def test_group_sources_name_the_grant_they_come_from():
    grants = [GroupGrant(group_id="g", target=WORKSPACE, level=Level.CHECKER)]
    sources = group_sources(grants, WORKSPACES)
    assert sources[HOME] == [group_source("g", Level.CHECKER, WORKSPACE)]
    assert sources[WORKSPACE] == [group_source("g", Level.CHECKER, WORKSPACE)]


def test_rederive_replaces_only_that_groups_sources():
    existing = (
        group_source("g1", Level.VIEWER, FOLDER),
        group_source("g2", Level.CHECKER, FOLDER),
        Source(type="direct", level="viewer"),
    )
    derived = [group_source("g1", Level.EDITOR, FOLDER)]
    result = rederive_group(existing, "g1", derived, FOLDER, FolderRevocation.AUTOMATIC)
    assert set(result) == {
        group_source("g1", Level.EDITOR, FOLDER),
        group_source("g2", Level.CHECKER, FOLDER),
        Source(type="direct", level="viewer"),
    }


def test_automatic_revocation_drops_a_lost_group_source():
    existing = (group_source("g", Level.EDITOR, FOLDER),)
    assert rederive_group(existing, "g", [], FOLDER, FolderRevocation.AUTOMATIC) == ()


def test_manual_revocation_retains_a_lost_folder_source():
    existing = (group_source("g", Level.EDITOR, WORKSPACE),)
    result = rederive_group(existing, "g", [], HOME, FolderRevocation.MANUAL)
    assert result == (Source(type="retained", level="editor", group_id="g", via=WORKSPACE),)


def test_manual_revocation_does_not_retain_workspace_access():
    existing = (group_source("g", Level.EDITOR, WORKSPACE),)
    assert rederive_group(existing, "g", [], WORKSPACE, FolderRevocation.MANUAL) == ()


def test_a_group_giving_access_again_supersedes_the_retained_source():
    retained = Source(type="retained", level="viewer", group_id="g", via=FOLDER)
    derived = [group_source("g", Level.EDITOR, FOLDER)]
    result = rederive_group((retained,), "g", derived, FOLDER, FolderRevocation.MANUAL)
    assert result == (group_source("g", Level.EDITOR, FOLDER),)


def test_rederive_is_idempotent():
    derived = [group_source("g", Level.CHECKER, FOLDER)]
    once = rederive_group((), "g", derived, FOLDER, FolderRevocation.MANUAL)
    assert rederive_group(once, "g", derived, FOLDER, FolderRevocation.MANUAL) == once


def test_a_direct_grant_replaces_the_previous_direct_level():
    sources = with_direct((Source(type="direct", level="viewer"),), Level.EDITOR)
    assert sources == (Source(type="direct", level="editor"),)


def test_removing_the_direct_grant_also_ends_retained_access_but_keeps_group_access():
    existing = (
        Source(type="direct", level="editor"),
        Source(type="retained", level="viewer", group_id="g1", via=FOLDER),
        group_source("g2", Level.CHECKER, FOLDER),
    )
    assert with_direct(existing, None) == (group_source("g2", Level.CHECKER, FOLDER),)


def test_change_of_reports_grant_level_change_and_revocation():
    before = AccessRecord(
        user_id="u", target=FOLDER, sources=(Source(type="direct", level="viewer"),)
    )
    after = before.model_copy(update={"sources": (Source(type="direct", level="editor"),)})
    gone = before.model_copy(update={"sources": ()})
    granted = change_of(None, before)
    assert granted is not None
    assert granted.level is Level.VIEWER
    assert granted.previous_level is None
    changed = change_of(before, after)
    assert changed is not None
    assert changed.previous_level is Level.VIEWER
    revoked = change_of(before, gone)
    assert revoked is not None
    assert revoked.level is None
    assert change_of(before, before) is None

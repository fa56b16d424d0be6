"""The access domain's values: levels, targets, organization settings, workspaces and folders.

Pure data: no I/O, no boto3. The rules that combine them live in `provisioning.access.rules`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    """A level on a workspace or a folder (Taskade's roles): Viewer < Checker < Editor."""

    VIEWER = "viewer"
    CHECKER = "checker"
    EDITOR = "editor"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Level.VIEWER: 1, Level.CHECKER: 2, Level.EDITOR: 3}


class TargetKind(StrEnum):
    WORKSPACE = "workspace"
    FOLDER = "folder"


class Target(BaseModel):
    """What a level is held on: a workspace or a folder, by id."""

    model_config = ConfigDict(frozen=True)

    type: TargetKind
    id: str = Field(min_length=1, max_length=128)

    def __str__(self) -> str:
        return f"{self.type.value}:{self.id}"


class FolderRevocation(StrEnum):
    """What happens to folder access that came from a group once the group no longer gives it.

    `automatic` removes it; `manual` keeps it (Taskade's documented behaviour) until an admin
    removes it."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class OrgSettings(BaseModel):
    """An organization's settings, with the defaults an organization starts with."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    allow_members_to_create_workspaces: bool = Field(
        default=True, alias="allowMembersToCreateWorkspaces"
    )
    folder_revocation: FolderRevocation = Field(
        default=FolderRevocation.AUTOMATIC, alias="folderRevocation"
    )


class Workspace(BaseModel):
    """A workspace of an organization; access to it brings its home folder."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    name: str
    home_folder_id: str = Field(alias="homeFolderId")
    created_by: str | None = Field(default=None, alias="createdBy")


class Folder(BaseModel):
    """A folder of a workspace; the home folder comes with the workspace, others are granted one
    by one."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    name: str
    workspace_id: str = Field(alias="workspaceId")
    home: bool = False


SourceType = Literal["group", "direct", "retained"]


class Source(BaseModel):
    """Where a level on a target comes from.

    - `group`: the group's grant on `via` (a workspace grant also reaches its home folder);
    - `direct`: an admin granted it to the user;
    - `retained`: a group once gave it and no longer does, and the organization keeps such folder
      access until an admin removes it (`folderRevocation: manual`).
    """

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    type: SourceType
    level: Level
    group_id: str | None = Field(default=None, alias="groupId")
    via: Target | None = None

    @property
    def identity(self) -> tuple[str, str | None, str | None]:
        """Two sources with one identity are one source (the newer level wins)."""
        return (self.type, self.group_id, str(self.via) if self.via else None)


class GroupGrant(BaseModel):
    """A group's level on a workspace or a folder, set by an admin."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    group_id: str = Field(alias="groupId")
    target: Target
    level: Level


class AccessRecord(BaseModel):
    """A user's access to one target: every source, and the effective level they give.

    The effective level is the highest among the sources, and none while the user is inactive
    (the sources are kept, so reactivation restores the access)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    user_id: str = Field(alias="userId")
    target: Target
    sources: tuple[Source, ...] = ()
    active: bool = True
    version: int = 0

    @property
    def level(self) -> Level | None:
        if not self.active or not self.sources:
            return None
        return max((source.level for source in self.sources), key=lambda level: level.rank)

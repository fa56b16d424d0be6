"""The access domain's values: levels, targets, organization settings, workspaces and folders.

Pure data: no I/O, no boto3. The rules that combine them live in `provisioning.access.rules`.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Level(str, Enum):
    """A level on a workspace or a folder (Taskade's roles): Viewer < Checker < Editor."""

    VIEWER = "viewer"
    CHECKER = "checker"
    EDITOR = "editor"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Level.VIEWER: 1, Level.CHECKER: 2, Level.EDITOR: 3}


class TargetKind(str, Enum):
    WORKSPACE = "workspace"
    FOLDER = "folder"


class Target(BaseModel):
    """What a level is held on: a workspace or a folder, by id."""

    model_config = ConfigDict(frozen=True)

    type: TargetKind
    id: str = Field(min_length=1, max_length=128)

    def __str__(self) -> str:
        return f"{self.type.value}:{self.id}"


class FolderRevocation(str, Enum):
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

"""Domain events, committed in the same transaction as the change they describe (outbox).

Each event has a `detail-type` and a schema version; consumers must ignore fields they do not
know, and a breaking change gets a new version rather than a changed meaning.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from provisioning.access.model import Level, Target

SOURCE = "scim.provisioning"


class DomainEvent(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    detail_type: ClassVar[str]
    schema_version: ClassVar[int] = 1

    event_id: str = Field(default_factory=lambda: str(uuid.uuid4()), alias="eventId")
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC), alias="occurredAt")
    org_id: str = Field(alias="orgId")


class GroupMembersChanged(DomainEvent):
    """Users joined or left a group. A large change is split into several events, each applied
    atomically with its memberships."""

    detail_type: ClassVar[str] = "Group.MembersChanged"

    group_id: str = Field(alias="groupId")
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class GroupDeleted(DomainEvent):
    """A group is gone; its memberships are being removed (each removal batch emits
    Group.MembersChanged)."""

    detail_type: ClassVar[str] = "Group.Deleted"

    group_id: str = Field(alias="groupId")


class UserDeleted(DomainEvent):
    """A user is gone, and with it every membership and access."""

    detail_type: ClassVar[str] = "User.Deleted"

    user_id: str = Field(alias="userId")


class UserStatusChanged(DomainEvent):
    """A user was deactivated or reactivated (`active`); its access is suspended or restored."""

    detail_type: ClassVar[str] = "User.StatusChanged"

    user_id: str = Field(alias="userId")
    active: bool


class GroupGrantChanged(DomainEvent):
    """An admin set (`level`) or removed (`level` null) a group's level on a workspace or folder.
    Consumers read the grant's current state: events of one grant may arrive out of order."""

    detail_type: ClassVar[str] = "Group.GrantChanged"

    group_id: str = Field(alias="groupId")
    target: Target
    level: Level | None = None


class WorkspaceDeleted(DomainEvent):
    """An admin deleted a workspace. Its folders (the home folder too), every group grant on it
    or on them and every user's access to them are removed by the fan-out, in resumable steps;
    each removed access that gave a level is announced by Access.Revoked."""

    detail_type: ClassVar[str] = "Workspace.Deleted"

    workspace_id: str = Field(alias="workspaceId")


class FolderDeleted(DomainEvent):
    """An admin deleted a folder (never a home folder: it goes with its workspace). Group grants
    on it and users' access to it are removed by the fan-out, as for a workspace."""

    detail_type: ClassVar[str] = "Folder.Deleted"

    folder_id: str = Field(alias="folderId")
    workspace_id: str = Field(alias="workspaceId")


class AccessChange(BaseModel):
    """One user's effective level on one target, before and after (null: no access)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    user_id: str = Field(alias="userId")
    target: Target
    level: Level | None
    previous_level: Level | None = Field(alias="previousLevel")


class AccessGranted(DomainEvent):
    """Users gained access or had their level changed. One event carries the changes written
    in one transaction (up to a few dozen), so a grant to a large group is not 100,000 events."""

    detail_type: ClassVar[str] = "Access.Granted"

    changes: list[AccessChange]


class AccessRevoked(DomainEvent):
    """Users lost all access to a target (`level` null in each change)."""

    detail_type: ClassVar[str] = "Access.Revoked"

    changes: list[AccessChange]


# Every event type the service publishes, by detail-type.
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    event.detail_type: event
    for event in (
        GroupMembersChanged,
        GroupDeleted,
        GroupGrantChanged,
        UserDeleted,
        UserStatusChanged,
        WorkspaceDeleted,
        FolderDeleted,
        AccessGranted,
        AccessRevoked,
    )
}

"""Domain events, committed in the same transaction as the change they describe (outbox).

Each event has a `detail-type` and a schema version; consumers must ignore fields they do not
know, and a breaking change gets a new version rather than a changed meaning.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

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

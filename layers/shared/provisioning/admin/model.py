"""The admin plane's own values (the access domain's live in `provisioning.access.model`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from provisioning.access.model import OrgSettings


class Organization(BaseModel):
    """An organization: a tenant with its own SCIM token, directory, workspaces and settings."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    name: str
    settings: OrgSettings = OrgSettings()
    version: int = 1
    created_at: str = Field(alias="createdAt")

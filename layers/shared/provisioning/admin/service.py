"""The admin plane's rules over injected stores: organizations and their tokens, settings,
workspaces and folders. Access operations are the access domain's `AccessService`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from provisioning import clients
from provisioning.access.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from provisioning.access.model import (
    Folder,
    FolderRevocation,
    OrgSettings,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.admin.model import Organization
from provisioning.auth.tokens import (
    InvalidOrganizationIdError,
    OrganizationExistsError,
    OrganizationNotFoundError,
    RotationConflictError,
    TokenService,
)
from provisioning.events.contract import FolderDeleted, WorkspaceDeleted
from provisioning.kinds import user_is_active
from provisioning.scim.resources import USER
from provisioning.settings import Settings, get_settings
from provisioning.store.organizations import OrganizationStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore, StoredResource

if TYPE_CHECKING:
    from provisioning.access.service import AccessService

HOME_FOLDER_NAME = "Home"
# A member's workspace creation reads the member and the setting again after a failed check.
_ATTEMPTS = 4


def _new_id() -> str:
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AdminService:
    """What an admin does to an organization; every refusal is an `AccessError` with its status."""

    def __init__(
        self,
        organizations: OrganizationStore,
        tokens: TokenService,
        resources: ResourceStore,
        access: AccessService,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._organizations = organizations
        self._tokens = tokens
        self._resources = resources
        self._access = access
        self._clock = clock
        self._table = organizations.table_name

    @classmethod
    def build(cls, access: AccessService, settings: Settings | None = None) -> AdminService:
        """The service on the container's clients."""
        settings = settings or get_settings()
        client = clients.dynamodb()
        return cls(
            OrganizationStore(client, settings.table_name),
            TokenService(clients.secrets_manager(), settings.token_secret_prefix),
            ResourceStore(client, settings.table_name),
            access,
        )

    # --- organizations and tokens ------------------------------------------------------------

    def create_organization(
        self, org_id: str, name: str | None = None, token: str | None = None
    ) -> tuple[Organization, str]:
        """The organization item, then its token secret; returns the first token, which is shown
        this once (only its digest is kept). A token secret that exists already (a second create,
        or an organization issued a token before the admin plane) is a 409 and leaves nothing
        behind. `token` fixes the token (the local demo's `SCIM_DEMO_TOKEN`)."""
        try:
            organization = Organization(
                id=org_id, name=name or org_id, created_at=self._clock().isoformat()
            )
            self._organizations.create_organization(organization)
            try:
                issued = self._tokens.create_organization(org_id, token=token)
            except Exception:
                self._organizations.delete_organization(org_id)
                raise
        except InvalidOrganizationIdError as exc:
            raise InvalidInputError(str(exc)) from None
        except OrganizationExistsError:
            raise ConflictError(f"organization {org_id} already has a SCIM token") from None
        return organization, issued

    def organizations(
        self, limit: int, after: str | None = None
    ) -> tuple[list[Organization], str | None]:
        """A page of organizations in id order, and the id the next page starts after."""
        return self._organizations.list_organizations(limit, after)

    def organization(self, org_id: str) -> Organization:
        organization = self._organizations.organization(org_id)
        if organization is None:
            raise NotFoundError(f"organization {org_id} does not exist")
        return organization

    def rotate_token(self, org_id: str, grace: timedelta) -> str:
        """A new token; the previous ones stay valid for `grace` (zero revokes them now)."""
        if grace < timedelta(0):
            raise InvalidInputError("the grace period cannot be negative")
        try:
            return self._tokens.rotate(org_id, grace)
        except InvalidOrganizationIdError as exc:
            raise InvalidInputError(str(exc)) from None
        except OrganizationNotFoundError:
            raise NotFoundError(f"organization {org_id} has no SCIM token") from None
        except RotationConflictError:
            raise ConflictError(
                f"the tokens of organization {org_id} are being rotated by someone else; retry"
            ) from None

    # --- settings ----------------------------------------------------------------------------

    def update_settings(
        self,
        org_id: str,
        allow_members_to_create_workspaces: bool | None = None,
        folder_revocation: FolderRevocation | None = None,
    ) -> OrgSettings:
        """Change the given settings; the fan-out reads them on its next event."""
        return self._organizations.update_settings(
            org_id, allow_members_to_create_workspaces, folder_revocation
        ).settings

    # --- workspaces and folders --------------------------------------------------------------

    def create_workspace(
        self, org_id: str, name: str, created_by: str | None = None
    ) -> tuple[Workspace, Folder]:
        """A workspace with its home folder. Created by a member (`created_by`, a SCIM user of the
        organization) only if the organization allows members to, and the member becomes its
        Editor by a direct grant, in the same transaction as the workspace: the setting and the
        member (active, unchanged since read) are checked in it too."""
        workspace = Workspace(
            id=_new_id(), name=name, home_folder_id=_new_id(), created_by=created_by
        )
        home = Folder(
            id=workspace.home_folder_id,
            name=HOME_FOLDER_NAME,
            workspace_id=workspace.id,
            home=True,
        )
        if created_by is None:
            self._organizations.create_workspace(org_id, workspace, home)
            return workspace, home
        target = Target(type=TargetKind.WORKSPACE, id=workspace.id)
        for _ in range(_ATTEMPTS):
            member = self._require_creating_member(org_id, created_by)
            grant = self._access.creator_grant(org_id, member, target)
            try:
                self._organizations.create_workspace(org_id, workspace, home, grant)
            except NotFoundError:
                continue  # the setting, the organization or the member changed: check again
            return workspace, home
        raise ConflictError(f"user {created_by} is changing too often; retry")

    def workspaces(self, org_id: str) -> list[Workspace]:
        if not self._organizations.organization_exists(org_id):
            raise NotFoundError(f"organization {org_id} does not exist")
        return self._organizations.list_workspaces(org_id)

    def create_folder(self, org_id: str, workspace_id: str, name: str) -> Folder:
        folder = Folder(id=_new_id(), name=name, workspace_id=workspace_id)
        self._organizations.create_folder(org_id, folder)
        return folder

    def rename_workspace(self, org_id: str, workspace_id: str, name: str) -> Workspace:
        """Change the name only (ids, folders and access stay)."""
        return self._organizations.rename_workspace(org_id, workspace_id, name)

    def delete_workspace(self, org_id: str, workspace_id: str) -> None:
        """Delete a workspace with its Workspace.Deleted event in one transaction. Its folders
        go with it, the home folder included (a folder belongs to exactly one workspace, and
        access to a workspace brings its home folder), and so do every grant on them and every
        user's access to them: the fan-out removes those, in resumable steps."""
        event = WorkspaceDeleted(org_id=org_id, workspace_id=workspace_id)
        self._organizations.delete_workspace(org_id, workspace_id, outbox_item(self._table, event))

    def rename_folder(self, org_id: str, folder_id: str, name: str) -> Folder:
        return self._organizations.rename_folder(org_id, folder_id, name)

    def delete_folder(self, org_id: str, folder_id: str) -> None:
        """Delete a folder with its Folder.Deleted event (the fan-out removes its grants and
        access). A home folder is refused (409): it goes with its workspace."""
        folder = self._organizations.folder(org_id, folder_id)
        if folder is None:
            raise NotFoundError(f"folder {folder_id} not found")
        if folder.home:
            raise ConflictError(
                f"folder {folder_id} is the home folder of workspace {folder.workspace_id}; "
                "delete the workspace instead"
            )
        event = FolderDeleted(org_id=org_id, folder_id=folder_id, workspace_id=folder.workspace_id)
        self._organizations.delete_folder(org_id, folder_id, outbox_item(self._table, event))

    def folders(self, org_id: str, workspace_id: str) -> list[Folder]:
        if self._organizations.workspace(org_id, workspace_id) is None:
            raise NotFoundError(f"workspace {workspace_id} does not exist")
        return self._organizations.folders_of(org_id, workspace_id)

    def _require_creating_member(self, org_id: str, user_id: str) -> StoredResource:
        if not self.organization(org_id).settings.allow_members_to_create_workspaces:
            raise ForbiddenError(f"members of organization {org_id} may not create workspaces")
        user = self._resources.get(org_id, USER.name, user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        if not user_is_active(user):
            raise ForbiddenError(f"user {user_id} is deactivated")
        return user

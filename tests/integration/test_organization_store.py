"""The organization store on DynamoDB (moto): organizations, settings, workspaces, folders."""

from __future__ import annotations

import pytest

from provisioning import clients
from provisioning.access.errors import ConflictError, NotFoundError
from provisioning.access.model import Folder, FolderRevocation, OrgSettings, Workspace
from provisioning.admin.model import Organization
from provisioning.settings import get_settings
from provisioning.store.organizations import OrganizationStore

ORG = "contoso"


@pytest.fixture
def store(stack) -> OrganizationStore:
    return OrganizationStore(clients.dynamodb(), get_settings().table_name)


@pytest.fixture
def organization(store) -> Organization:
    created = Organization(id=ORG, name="Contoso", created_at="2024-01-01T00:00:00+00:00")
    store.create_organization(created)
    return created


def workspace(store, workspace_id: str = "w1", created_by: str | None = None) -> Workspace:
    created = Workspace(
        id=workspace_id, name="Sales", home_folder_id=f"{workspace_id}-home", created_by=created_by
    )
    home = Folder(id=f"{workspace_id}-home", name="Home", workspace_id=workspace_id, home=True)
    store.create_workspace(ORG, created, home)
    return created


def test_created_organization_reads_back_equal(store, organization):
    assert store.organization(ORG) == organization
    assert store.organization_exists(ORG)


def test_an_organization_id_is_created_once(store, organization):
    with pytest.raises(ConflictError):
        store.create_organization(organization)


def test_settings_are_the_defaults_without_an_organization_item(store):
    assert store.settings("nobody") == OrgSettings()
    assert not store.organization_exists("nobody")


def test_settings_update_changes_only_what_is_given(store, organization):
    store.update_settings(ORG, folder_revocation=FolderRevocation.MANUAL)
    updated = store.update_settings(ORG, allow_members_to_create_workspaces=False)
    assert updated.settings == OrgSettings(
        allow_members_to_create_workspaces=False, folder_revocation=FolderRevocation.MANUAL
    )
    assert updated.version == organization.version + 2
    assert store.settings(ORG) == updated.settings


def test_settings_update_of_an_unknown_organization_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.update_settings("nobody", allow_members_to_create_workspaces=False)


def test_workspace_is_created_with_its_home_folder(store, organization):
    created = workspace(store, created_by="user-1")
    assert store.workspace(ORG, "w1") == created
    assert store.folder(ORG, "w1-home") == Folder(
        id="w1-home", name="Home", workspace_id="w1", home=True
    )


def test_workspace_needs_an_existing_organization(store):
    with pytest.raises(NotFoundError):
        workspace(store)
    assert store.folder(ORG, "w1-home") is None


def test_a_workspace_id_is_created_once(store, organization):
    workspace(store)
    with pytest.raises(ConflictError):
        workspace(store)


def test_workspaces_by_ids_returns_the_existing_ones(store, organization):
    first, second = workspace(store, "w1"), workspace(store, "w2")
    assert store.workspaces(ORG, ["w2", "missing", "w1", "w2"]) == {"w1": first, "w2": second}


def test_list_workspaces_in_id_order(store, organization):
    workspace(store, "w2")
    workspace(store, "w1")
    assert [w.id for w in store.list_workspaces(ORG)] == ["w1", "w2"]


def test_folder_is_listed_with_its_workspace_only(store, organization):
    workspace(store, "w1")
    workspace(store, "w2")
    store.create_folder(ORG, Folder(id="f1", name="Plans", workspace_id="w1"))
    assert [f.id for f in store.folders_of(ORG, "w1")] == ["f1", "w1-home"]
    assert [f.id for f in store.folders_of(ORG, "w2")] == ["w2-home"]


def test_folder_needs_an_existing_workspace(store, organization):
    with pytest.raises(NotFoundError):
        store.create_folder(ORG, Folder(id="f1", name="Plans", workspace_id="missing"))


def test_overlong_ids_read_as_missing(store, organization):
    assert store.workspace(ORG, "w" * 600) is None
    assert store.folder(ORG, "f" * 600) is None

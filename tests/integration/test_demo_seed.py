"""`make run`'s demo organization: two workspaces, each with its home folder and one more."""

from __future__ import annotations

from provisioning import clients
from provisioning.auth.tokens import TokenService
from provisioning.local.__main__ import DEMO_ORG, seed_demo
from provisioning.settings import get_settings
from provisioning.store.organizations import OrganizationStore

DEMO_TOKEN = "scim_demo_" + "x" * 43


def test_demo_has_two_workspaces_each_with_a_home_folder_and_one_more(stack):
    _, workspaces = seed_demo(None)
    store = OrganizationStore(clients.dynamodb(), get_settings().table_name)
    assert len(store.list_workspaces(DEMO_ORG)) == 2
    for workspace, extra in workspaces:
        folders = store.folders_of(DEMO_ORG, workspace.id)
        assert sorted(f.home for f in folders) == [False, True]
        assert extra in folders


def test_demo_keeps_the_given_token(stack):
    token, _ = seed_demo(DEMO_TOKEN)
    assert token == DEMO_TOKEN
    assert TokenService(clients.secrets_manager(), "scim/orgs/").verify(token) == DEMO_ORG

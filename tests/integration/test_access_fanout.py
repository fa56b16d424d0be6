"""The fan-out's rules on moto, event by event: group and direct grants, membership changes
under both revocation policies, deactivation, deletion, duplicated and reordered events, and a
crash midway that converges on retry."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from provisioning import clients
from provisioning.access import fanout as fanout_module
from provisioning.access.fanout import AccessFanout
from provisioning.access.model import (
    Folder,
    FolderRevocation,
    Level,
    Target,
    TargetKind,
    Workspace,
)
from provisioning.access.service import AccessService
from provisioning.access.updates import AccessWriter
from provisioning.admin.model import Organization
from provisioning.events.contract import (
    FolderDeleted,
    GroupDeleted,
    GroupGrantChanged,
    GroupMembersChanged,
    UserDeleted,
    UserStatusChanged,
    WorkspaceDeleted,
)
from provisioning.scim.groups import GroupService
from provisioning.scim.users import UserService
from provisioning.settings import get_settings
from provisioning.store.access import AccessStore
from provisioning.store.memberships import MembershipStore
from provisioning.store.organizations import OrganizationStore
from provisioning.store.outbox import outbox_item
from provisioning.store.resources import ResourceStore
from tests.http.seeding import seed_members, seed_users

ORG = "contoso"
WORKSPACE = Target(type=TargetKind.WORKSPACE, id="sales")
HOME = Target(type=TargetKind.FOLDER, id="sales-home")
FOLDER = Target(type=TargetKind.FOLDER, id="sales-deals")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass
class Directory:
    users: UserService
    groups: GroupService
    organizations: OrganizationStore
    access: AccessStore
    service: AccessService
    fanout: AccessFanout

    def level(self, user_id: str, target: Target) -> Level | None:
        record = self.access.record(ORG, user_id, target)
        return record.level if record else None

    def user(self, name: str) -> str:
        return self.users.create(ORG, {"schemas": [USER_SCHEMA], "userName": name}).id

    def group(self, name: str, members: list[str]) -> str:
        group = self.groups.create(
            ORG, {"displayName": name, "members": [{"value": m} for m in members]}
        )
        return group.id

    def grant(self, group_id: str, target: Target, level: Level | None) -> GroupGrantChanged:
        """Set the grant as the admin does, and return the event the fan-out will get."""
        self.service.set_group_grant(ORG, group_id, target, level)
        return GroupGrantChanged(org_id=ORG, group_id=group_id, target=target, level=level)


@pytest.fixture
def directory(stack) -> Directory:
    table = get_settings().table_name
    client = clients.dynamodb()
    resources = ResourceStore(client, table)
    memberships = MembershipStore(client, table)
    organizations = OrganizationStore(client, table)
    access = AccessStore(client, table)
    writer = AccessWriter(access, table)
    organizations.create_organization(
        Organization(id=ORG, name="Contoso", created_at="2026-11-29T00:00:00Z")
    )
    organizations.create_workspace(
        ORG,
        Workspace(id="sales", name="Sales", home_folder_id="sales-home"),
        Folder(id="sales-home", name="Home", workspace_id="sales", home=True),
    )
    organizations.create_folder(ORG, Folder(id="sales-deals", name="Deals", workspace_id="sales"))
    return Directory(
        users=UserService(resources, memberships, table),
        groups=GroupService(resources, memberships, table),
        organizations=organizations,
        access=access,
        service=AccessService(access, organizations, resources, writer, table),
        fanout=AccessFanout(access, organizations, resources, memberships, writer),
    )


def test_workspace_grant_gives_members_the_workspace_and_its_home_folder(directory):
    ada, bob = directory.user("ada"), directory.user("bob")
    sales = directory.group("Sales", [ada, bob])
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.EDITOR))
    for user in (ada, bob):
        assert directory.level(user, WORKSPACE) is Level.EDITOR
        assert directory.level(user, HOME) is Level.EDITOR
        assert directory.level(user, FOLDER) is None


def test_effective_level_is_the_highest_of_two_groups(directory):
    ada = directory.user("ada")
    viewers, checkers = directory.group("Viewers", [ada]), directory.group("Checkers", [ada])
    directory.fanout.handle(directory.grant(viewers, FOLDER, Level.VIEWER))
    directory.fanout.handle(directory.grant(checkers, FOLDER, Level.CHECKER))
    record = directory.service.explain(ORG, ada, FOLDER)
    assert record is not None
    assert record.level is Level.CHECKER
    assert {source.group_id for source in record.sources} == {viewers, checkers}


def test_new_member_gets_the_groups_access_and_a_leaver_loses_it(directory):
    ada, bob = directory.user("ada"), directory.user("bob")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.CHECKER))
    directory.groups.patch(ORG, sales, _members_patch(add=[bob], remove=[ada]), None)
    directory.fanout.handle(
        GroupMembersChanged(org_id=ORG, group_id=sales, added=[bob], removed=[ada])
    )
    assert directory.level(bob, FOLDER) is Level.CHECKER
    assert directory.level(ada, FOLDER) is None


def test_manual_revocation_keeps_folder_access_until_an_admin_removes_it(directory):
    directory.organizations.update_settings(ORG, folder_revocation=FolderRevocation.MANUAL)
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.EDITOR))
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.VIEWER))
    directory.groups.patch(ORG, sales, _members_patch(remove=[ada]), None)
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, removed=[ada]))
    assert directory.level(ada, WORKSPACE) is None  # workspace access is not retained
    assert directory.level(ada, HOME) is Level.EDITOR
    assert directory.level(ada, FOLDER) is Level.VIEWER
    directory.service.set_direct(ORG, ada, FOLDER, None)
    assert directory.level(ada, FOLDER) is None


def test_direct_grant_stays_when_the_group_access_goes(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.service.set_direct(ORG, ada, FOLDER, Level.VIEWER)
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.EDITOR))
    assert directory.level(ada, FOLDER) is Level.EDITOR
    directory.fanout.handle(directory.grant(sales, FOLDER, None))
    assert directory.level(ada, FOLDER) is Level.VIEWER


def test_removing_a_workspace_grant_removes_the_home_folder_access(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.VIEWER))
    directory.fanout.handle(directory.grant(sales, WORKSPACE, None))
    assert directory.service.access_of_user(ORG, ada) == []


def test_deactivation_suspends_and_reactivation_restores_access(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.service.set_direct(ORG, ada, FOLDER, Level.CHECKER)
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.EDITOR))
    for active in (False, True):
        directory.users.patch(ORG, ada, _active_patch(active), None)
        directory.fanout.handle(UserStatusChanged(org_id=ORG, user_id=ada, active=active))
        expected = (Level.EDITOR, Level.CHECKER) if active else (None, None)
        assert (directory.level(ada, WORKSPACE), directory.level(ada, FOLDER)) == expected


def test_a_grant_to_an_inactive_member_gives_nothing_until_reactivation(directory):
    ada = directory.user("ada")
    directory.users.patch(ORG, ada, _active_patch(False), None)
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.EDITOR))
    assert directory.level(ada, FOLDER) is None
    directory.users.patch(ORG, ada, _active_patch(True), None)
    directory.fanout.handle(UserStatusChanged(org_id=ORG, user_id=ada, active=True))
    assert directory.level(ada, FOLDER) is Level.EDITOR


def test_deleted_user_loses_everything_including_direct_grants(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.service.set_direct(ORG, ada, WORKSPACE, Level.VIEWER)
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.EDITOR))
    directory.users.delete(ORG, ada, None)
    directory.fanout.handle(UserDeleted(org_id=ORG, user_id=ada))
    assert directory.access.records_of_user(ORG, ada) == []


def test_group_deletion_drops_its_grants_and_its_members_access(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.EDITOR))
    directory.groups.delete(ORG, sales, None)
    directory.fanout.handle(GroupDeleted(org_id=ORG, group_id=sales))
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, removed=[ada]))
    assert directory.access.grants_on(ORG, FOLDER) == []
    assert directory.level(ada, FOLDER) is None


def test_duplicated_events_change_nothing_the_first_did_not(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    event = directory.grant(sales, FOLDER, Level.EDITOR)
    first = directory.fanout.handle(event)
    again = directory.fanout.handle(event)
    assert first.changes == 1
    assert again.changes == 0
    assert directory.level(ada, FOLDER) is Level.EDITOR


def test_reordered_events_end_in_the_current_state(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    granted = directory.grant(sales, FOLDER, Level.EDITOR)
    removed = directory.grant(sales, FOLDER, None)
    regranted = directory.grant(sales, FOLDER, Level.VIEWER)
    for event in (regranted, removed, granted):  # newest first
        directory.fanout.handle(event)
    assert directory.level(ada, FOLDER) is Level.VIEWER


def test_reordered_leave_and_join_end_in_the_current_membership(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.CHECKER))
    directory.groups.patch(ORG, sales, _members_patch(remove=[ada]), None)
    directory.groups.patch(ORG, sales, _members_patch(add=[ada]), None)
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, added=[ada]))
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, removed=[ada]))
    assert directory.level(ada, FOLDER) is Level.CHECKER


def test_a_leaver_whose_grant_was_removed_meanwhile_loses_the_access(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.EDITOR))
    directory.groups.patch(ORG, sales, _members_patch(remove=[ada]), None)
    removed = directory.grant(sales, WORKSPACE, None)
    directory.fanout.handle(removed)  # ada is no longer a member: not visited here
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, removed=[ada]))
    assert directory.service.access_of_user(ORG, ada) == []


def _meanwhile(monkeypatch, directory, change) -> None:
    """Run `change` once, between the fan-out's reads and its write (settings are its last read)."""
    read_settings = directory.organizations.settings
    done: list[bool] = []

    def settings(org_id):
        if not done:
            done.append(True)
            change()
        return read_settings(org_id)

    monkeypatch.setattr(directory.organizations, "settings", settings)


def test_a_user_deleted_during_a_round_gets_no_record(directory, monkeypatch):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    event = directory.grant(sales, FOLDER, Level.EDITOR)

    def delete_ada():
        directory.users.delete(ORG, ada, None)
        directory.fanout.handle(UserDeleted(org_id=ORG, user_id=ada))

    _meanwhile(monkeypatch, directory, delete_ada)
    directory.fanout.handle(event)
    assert directory.access.record(ORG, ada, FOLDER) is None


def test_a_user_deactivated_during_a_round_gets_no_access(directory, monkeypatch):
    ada = directory.user("ada")
    sales = directory.group("Sales", [ada])
    event = directory.grant(sales, FOLDER, Level.EDITOR)

    def deactivate_ada():
        directory.users.patch(ORG, ada, _active_patch(False), None)
        directory.fanout.handle(UserStatusChanged(org_id=ORG, user_id=ada, active=False))

    _meanwhile(monkeypatch, directory, deactivate_ada)
    directory.fanout.handle(event)
    assert directory.level(ada, FOLDER) is None


def test_a_record_emptied_and_refilled_meanwhile_fails_the_stale_write(directory, monkeypatch):
    """No ABA: a record that lost its last source keeps its version, so a writer that read it
    before cannot overwrite what came after."""
    ada = directory.user("ada")
    first, second = directory.group("First", [ada]), directory.group("Second", [ada])
    directory.fanout.handle(directory.grant(first, FOLDER, Level.VIEWER))
    upgrade = directory.grant(first, FOLDER, Level.EDITOR)

    def leave_first_then_join_through_second():
        directory.groups.patch(ORG, first, _members_patch(remove=[ada]), None)
        directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=first, removed=[ada]))
        directory.fanout.handle(directory.grant(second, FOLDER, Level.VIEWER))

    _meanwhile(monkeypatch, directory, leave_first_then_join_through_second)
    directory.fanout.handle(upgrade)
    record = directory.access.record(ORG, ada, FOLDER)
    assert record is not None
    assert {source.group_id for source in record.sources} == {second}
    assert record.level is Level.VIEWER


def test_a_crash_midway_converges_on_retry(directory, monkeypatch):
    members = seed_users(ORG, 250)
    sales = directory.group("Sales", [])
    seed_members(ORG, sales, members)
    event = directory.grant(sales, WORKSPACE, Level.VIEWER)
    real_commit = directory.access.commit
    commits = []

    def crash_after_two(items):
        if len(commits) == 2:
            raise RuntimeError("container died")
        commits.append(len(items))
        real_commit(items)

    monkeypatch.setattr(directory.access, "commit", crash_after_two)
    with pytest.raises(RuntimeError):
        directory.fanout.handle(event)
    monkeypatch.setattr(directory.access, "commit", real_commit)
    directory.fanout.handle(event)
    assert {directory.level(m, HOME) for m in members} == {Level.VIEWER}


def test_a_large_group_is_processed_in_resumable_chunks(directory, monkeypatch):
    monkeypatch.setattr("provisioning.access.fanout.MEMBERS_PER_MESSAGE", 100)
    members = seed_users(ORG, 250)
    sales = directory.group("Sales", [])
    seed_members(ORG, sales, members)
    event = directory.grant(sales, FOLDER, Level.CHECKER)
    outcomes = [directory.fanout.handle(event)]
    while outcomes[-1].resume_after is not None:
        outcomes.append(directory.fanout.handle(event, outcomes[-1].resume_after))
    assert [outcome.users for outcome in outcomes] == [100, 100, 50]
    assert {directory.level(m, FOLDER) for m in members} == {Level.CHECKER}


def test_grant_to_unknown_group_or_target_is_not_found(directory):
    from provisioning.access.errors import NotFoundError

    sales = directory.group("Sales", [])
    with pytest.raises(NotFoundError):
        directory.service.set_group_grant(ORG, "no-such-group", FOLDER, Level.EDITOR)
    with pytest.raises(NotFoundError):
        directory.service.set_group_grant(
            ORG, sales, Target(type=TargetKind.FOLDER, id="nope"), Level.EDITOR
        )


def _members_patch(add: list[str] = (), remove: list[str] = ()) -> dict:
    operations = []
    if add:
        operations.append({"op": "add", "path": "members", "value": [{"value": u} for u in add]})
    for user in remove:
        operations.append({"op": "remove", "path": f'members[value eq "{user}"]'})
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}


def _active_patch(active: bool) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": active}],
    }


# --- deleted workspaces and folders ------------------------------------------------------------


def _items_referring_to(*ids: str) -> list[dict]:
    """Every item of the table (a Scan: a test's look at everything) that names one of `ids`
    anywhere, outbox events excepted: they are the record of what happened, expired by TTL."""
    client = clients.dynamodb()
    table = get_settings().table_name
    items, arguments = [], {"TableName": table}
    while True:
        page = client.scan(**arguments)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [
        item
        for item in items
        if item.get("kind", {}).get("S") != "Outbox" and any(i in json.dumps(item) for i in ids)
    ]


def _until_done(directory, event) -> int:
    """Apply an event and its follow-ups as the worker would; the number of messages."""
    outcome, messages = directory.fanout.handle(event), 1
    while outcome.resume_after is not None:
        outcome, messages = directory.fanout.handle(event, outcome.resume_after), messages + 1
    return messages


def _delete_workspace(directory) -> WorkspaceDeleted:
    event = WorkspaceDeleted(org_id=ORG, workspace_id=WORKSPACE.id)
    directory.organizations.delete_workspace(
        ORG, WORKSPACE.id, outbox_item(get_settings().table_name, event)
    )
    return event


def _access_everywhere(directory) -> tuple[str, str, str]:
    """Group grants on the workspace and a folder, a direct grant, a tombstone of a removed
    grant, a suspended user's records and a record kept empty: every kind of item that can
    name a target."""
    ada, bob, eve = directory.user("ada"), directory.user("bob"), directory.user("eve")
    sales, old = directory.group("Sales", [ada, bob]), directory.group("Old", [ada])
    directory.fanout.handle(directory.grant(sales, WORKSPACE, Level.EDITOR))
    directory.fanout.handle(directory.grant(sales, FOLDER, Level.VIEWER))
    directory.fanout.handle(directory.grant(old, FOLDER, Level.CHECKER))
    directory.fanout.handle(directory.grant(old, FOLDER, None))
    directory.service.set_direct(ORG, eve, HOME, Level.CHECKER)
    directory.service.set_direct(ORG, eve, WORKSPACE, Level.VIEWER)
    directory.service.set_direct(ORG, eve, WORKSPACE, None)
    directory.users.patch(ORG, bob, _active_patch(False), None)
    directory.fanout.handle(UserStatusChanged(org_id=ORG, user_id=bob, active=False))
    assert _items_referring_to(WORKSPACE.id + '"', HOME.id, FOLDER.id)
    return ada, bob, eve


def test_a_deleted_workspace_leaves_no_folder_grant_or_access_behind(directory):
    ada, bob, eve = _access_everywhere(directory)
    _until_done(directory, _delete_workspace(directory))
    assert _items_referring_to(f":{WORKSPACE.id}", HOME.id, FOLDER.id) == []
    assert directory.organizations.folders_of(ORG, WORKSPACE.id) == []
    for user in (ada, bob, eve):
        assert directory.access.records_of_user(ORG, user) == []


def test_a_deleted_folder_leaves_no_grant_or_access_behind_and_spares_the_rest(directory):
    ada, _bob, eve = _access_everywhere(directory)
    event = FolderDeleted(org_id=ORG, folder_id=FOLDER.id, workspace_id=WORKSPACE.id)
    directory.organizations.delete_folder(
        ORG, FOLDER.id, outbox_item(get_settings().table_name, event)
    )
    _until_done(directory, event)
    assert _items_referring_to(FOLDER.id) == []
    assert directory.level(ada, WORKSPACE) is Level.EDITOR
    assert directory.level(eve, HOME) is Level.CHECKER


def test_a_large_deletion_resumes_in_follow_up_messages(directory, monkeypatch):
    monkeypatch.setattr(fanout_module, "CLEANUP_PER_MESSAGE", 3)
    _access_everywhere(directory)
    assert _until_done(directory, _delete_workspace(directory)) > 3
    assert _items_referring_to(f":{WORKSPACE.id}", HOME.id, FOLDER.id) == []


def test_a_deletion_applied_twice_changes_nothing_more(directory):
    _access_everywhere(directory)
    event = _delete_workspace(directory)
    _until_done(directory, event)
    outcome = directory.fanout.handle(event)
    assert (outcome.changes, outcome.resume_after) == (0, None)


def test_a_late_membership_event_creates_no_access_on_a_deleted_workspace(directory):
    ada = directory.user("ada")
    sales = directory.group("Sales", [])
    directory.service.set_group_grant(ORG, sales, WORKSPACE, Level.EDITOR)
    _until_done(directory, _delete_workspace(directory))
    directory.groups.patch(ORG, sales, _members_patch(add=[ada]), None)
    directory.fanout.handle(GroupMembersChanged(org_id=ORG, group_id=sales, added=[ada]))
    assert directory.access.records_of_user(ORG, ada) == []

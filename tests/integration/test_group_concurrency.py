"""Concurrent member changes through the groups service on moto: no lost update."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from provisioning import clients
from provisioning.scim.errors import TooManyRequests
from provisioning.scim.groups import GroupService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore
from tests.http.seeding import seed_users

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def service() -> GroupService:
    table = get_settings().table_name
    client = clients.dynamodb()
    return GroupService(ResourceStore(client, table), MembershipStore(client, table), table)


def patch_like_a_client(groups: GroupService, group_id: str, payload: dict) -> None:
    """As a client does: a 429 (too much contention) is retried."""
    for _ in range(20):
        try:
            groups.patch("contoso", group_id, payload, None)
            return
        except TooManyRequests:
            continue
    raise AssertionError("never got through")


def test_concurrent_patches_adding_different_members_all_take_effect(stack):
    groups = service()
    users = seed_users("contoso", 160)
    group = groups.create("contoso", {"displayName": "Busy"})
    batches = [users[i : i + 20] for i in range(0, len(users), 20)]

    def add(batch: list[str]) -> int:
        payload = {
            "schemas": [PATCH],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": u} for u in batch]}
            ],
        }
        return groups.patch("contoso", group.id, payload, None).version

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, batches))
    assert sorted(groups.member_ids("contoso", group.id)) == sorted(users)
    assert groups.get("contoso", group.id).version == 1 + len(batches)


def test_concurrent_renames_never_lose_a_member_change(stack):
    groups = service()
    users = seed_users("contoso", 40)
    group = groups.create("contoso", {"displayName": "Renamed"})

    def rename_and_add(index: int) -> None:
        payload = {
            "schemas": [PATCH],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": f"Name {index}"},
                {"op": "add", "path": "members", "value": [{"value": users[index]}]},
            ],
        }
        patch_like_a_client(groups, group.id, payload)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(rename_and_add, range(len(users))))
    assert sorted(groups.member_ids("contoso", group.id)) == sorted(users)


def test_concurrent_member_list_replacements_leave_one_of_the_lists(stack):
    groups = service()
    users = seed_users("contoso", 12)
    group = groups.create("contoso", {"displayName": "Replaced", "members": [{"value": users[0]}]})
    lists = [users[1 + 3 * n : 4 + 3 * n] for n in range(3)] + [users[10:12]]

    def replace(members: list[str]) -> None:
        payload = {
            "schemas": [PATCH],
            "Operations": [
                {"op": "replace", "path": "members", "value": [{"value": u} for u in members]}
            ],
        }
        patch_like_a_client(groups, group.id, payload)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(replace, lists * 3))
    final = sorted(groups.member_ids("contoso", group.id))
    assert final in [sorted(members) for members in lists]

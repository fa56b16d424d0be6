"""Memberships of deleted groups and users are removed by the purge worker, in bounded rounds,
through the table's stream (driven by the local stack after each request)."""

from __future__ import annotations

import json

from provisioning import clients
from provisioning.api.purge import ROUND_SIZE
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from tests.http.seeding import seed_members, seed_users


def memberships() -> MembershipStore:
    return MembershipStore(clients.dynamodb(), get_settings().table_name)


def outbox(org_id: str) -> list[dict]:
    items = clients.dynamodb().query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"OUTBOX#{org_id}"}},
    )["Items"]
    return [{"type": item["detailType"]["S"], **json.loads(item["detail"]["S"])} for item in items]


def test_deleting_a_large_group_purges_its_memberships_in_rounds(contoso, stack):
    size = ROUND_SIZE * 2 + 10
    users = seed_users("contoso", size)
    group = contoso.post("/Groups", {"displayName": "Big"}).json()
    seed_members("contoso", group["id"], users)

    assert contoso.delete(f"/Groups/{group['id']}").status == 204

    assert list(memberships().members("contoso", group["id"])) == []
    assert memberships().groups_of("contoso", users[-1]) == []
    assert stack.failed_batches == []
    events = outbox("contoso")
    assert [e["groupId"] for e in events if e["type"] == "Group.Deleted"] == [group["id"]]
    removed = [u for e in events if e["type"] == "Group.MembersChanged" for u in e["removed"]]
    assert sorted(removed) == sorted(users)


def test_a_user_in_many_groups_loses_every_membership(contoso, stack):
    (user,) = seed_users("contoso", 1)
    groups = [f"group-{n:04d}" for n in range(600)]
    for group_id in groups:
        seed_members("contoso", group_id, [user])
    assert len(memberships().groups_of("contoso", user)) == 600

    assert contoso.delete(f"/Users/{user}").status == 204

    assert memberships().groups_of("contoso", user) == []
    assert stack.failed_batches == []
    assert [e["userId"] for e in outbox("contoso") if e["type"] == "User.Deleted"] == [user]

"""A group of 10,000 members: adds in batches, removal, excludedAttributes, user deletion."""

from __future__ import annotations

from provisioning import clients
from tests.http.seeding import seed_members, seed_users

SIZE = 10_000


def test_group_of_ten_thousand_members(contoso):
    users = seed_users("contoso", SIZE)
    group = contoso.post("/Groups", {"displayName": "All Staff"}).json()
    path = f"/Groups/{group['id']}"
    # 9,000 members written directly; the last 1,000 arrive the way Entra sends them.
    seed_members("contoso", group["id"], users[:-1000])
    for start in range(SIZE - 1000, SIZE, 500):
        batch = users[start : start + 500]
        response = contoso.request(
            "PATCH",
            f"{path}?excludedAttributes=members",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Add", "path": "members", "value": [{"value": u} for u in batch]}
                ],
            },
        )
        assert response.status == 200, response.body

    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb", count)
    try:
        lean = contoso.get(f"{path}?excludedAttributes=members").json()
        # The authorizer's request counter (every SCIM request), then the group's one read.
        assert calls == ["UpdateItem", "GetItem"]
    finally:
        events.unregister("before-call.dynamodb", count)
    assert "members" not in lean

    full = contoso.get(path).json()
    assert len(full["members"]) == SIZE
    assert {m["value"] for m in full["members"]} == set(users)

    removed = contoso.patch(
        f"{path}?excludedAttributes=members",
        [{"op": "Remove", "path": f'members[value eq "{users[0]}"]'}],
    )
    assert removed.status == 200
    assert contoso.delete(f"/Users/{users[1]}").status == 204
    remaining = {m["value"] for m in contoso.get(path).json()["members"]}
    assert remaining == set(users[2:])
    assert contoso.get(f"/Users/{users[2]}").json()["groups"][0]["value"] == group["id"]

"""Fast test set-up: many users written straight through the store, 25 per transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from provisioning import clients
from provisioning.scim.resources import USER
from provisioning.settings import get_settings
from provisioning.store.dynamo import in_chunks
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore, StoredResource, UniqueValue


def seed_users(org_id: str, count: int, prefix: str = "seeded") -> list[str]:
    """Create `count` users (with guards and counter) and return their ids."""
    store = ResourceStore(clients.dynamodb(), get_settings().table_name)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for chunk in in_chunks(list(enumerate(ids)), 25):
        items = []
        for number, user_id in chunk:
            name = f"{prefix}{number:06d}@example.com"
            body = {
                "schemas": [str(USER.model.__schema__)],
                "id": user_id,
                "userName": name,
                "meta": {"resourceType": "User", "created": now, "lastModified": now},
            }
            stored = StoredResource(user_id, 1, body)
            unique = [UniqueValue("userName", name), None]
            created = store.create_items(org_id, USER.name, stored, unique)
            # The counter item appears once per transaction at most: keep the first only.
            items += [i for i in created if "Update" not in i]
        items.append(
            {
                "Update": {
                    "TableName": get_settings().table_name,
                    "Key": {"pk": {"S": f"ORG#{org_id}"}, "sk": {"S": "COUNT#User"}},
                    "UpdateExpression": "ADD #total :n",
                    "ExpressionAttributeNames": {"#total": "total"},
                    "ExpressionAttributeValues": {":n": {"N": str(len(chunk))}},
                }
            }
        )
        store.commit(items)
    return ids


def seed_members(org_id: str, group_id: str, user_ids: list[str]) -> None:
    """Add memberships straight through the store, 100 per transaction (set-up only: no events)."""
    table = get_settings().table_name
    memberships = MembershipStore(clients.dynamodb(), table)
    store = ResourceStore(clients.dynamodb(), table)
    for chunk in in_chunks(user_ids, 100):
        store.commit([memberships.add_item(org_id, group_id, user_id) for user_id in chunk])

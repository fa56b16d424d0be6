"""The resource store's contract on DynamoDB (moto): copies, 404, stale versions, uniqueness,
paging."""

from __future__ import annotations

import pytest
from scim2_models import UniquenessException

from provisioning import clients
from provisioning.settings import get_settings
from provisioning.store.resources import (
    ResourceStore,
    StaleVersionError,
    StoredResource,
    UniqueValue,
)

ORG = "contoso"


@pytest.fixture
def store(stack) -> ResourceStore:
    return ResourceStore(clients.dynamodb(), get_settings().table_name)


def user(
    resource_id: str, name: str, version: int = 1
) -> tuple[StoredResource, list[UniqueValue | None]]:
    body = {"id": resource_id, "userName": name}
    return StoredResource(resource_id, version, body), [
        UniqueValue("userName", name.casefold()),
        None,
    ]


def create(store, resource, unique):
    store.commit(store.create_items(ORG, "User", resource, unique))


def replace(store, resource, unique, previous, expected_version):
    store.commit(store.replace_items(ORG, "User", resource, unique, previous, expected_version))


def test_create_then_get_returns_an_equal_copy(store):
    resource, unique = user("u1", "Alice")
    create(store, resource, unique)
    found = store.get(ORG, "User", "u1")
    assert found == resource
    assert found is not resource


def test_get_of_a_missing_resource_is_none(store):
    assert store.get(ORG, "User", "missing") is None


def test_unique_value_cannot_be_claimed_twice(store):
    create(store, *user("u1", "Alice"))
    with pytest.raises(UniquenessException):
        create(store, *user("u2", "ALICE"))
    assert store.get(ORG, "User", "u2") is None
    assert store.count(ORG, "User") == 1


def test_replace_at_a_stale_version_fails_and_writes_nothing(store):
    resource, unique = user("u1", "Alice")
    create(store, resource, unique)
    renamed, new_unique = user("u1", "Alicia", version=2)
    replace(store, renamed, new_unique, unique, expected_version=1)
    again, again_unique = user("u1", "Other", version=2)
    with pytest.raises(StaleVersionError):
        replace(store, again, again_unique, new_unique, expected_version=1)
    assert store.get(ORG, "User", "u1") == renamed
    # The old name was released, the stale writer's name never claimed.
    create(store, *user("u2", "alice"))
    create(store, *user("u3", "other"))


def test_rename_to_a_taken_value_is_a_uniqueness_conflict(store):
    create(store, *user("u1", "Alice"))
    bob, bob_unique = user("u2", "Bob")
    create(store, bob, bob_unique)
    clash, clash_unique = user("u2", "alice", version=2)
    with pytest.raises(UniquenessException):
        replace(store, clash, clash_unique, bob_unique, expected_version=1)
    assert store.get(ORG, "User", "u2") == bob


def test_delete_releases_unique_values_and_uncounts(store):
    resource, unique = user("u1", "Alice")
    create(store, resource, unique)
    store.commit(store.delete_items(ORG, "User", resource, unique))
    assert store.get(ORG, "User", "u1") is None
    assert store.count(ORG, "User") == 0
    create(store, *user("u2", "alice"))


def test_find_unique_uses_the_index(store):
    resource, unique = user("u1", "Alice")
    create(store, resource, unique)
    assert store.find_unique(ORG, "User", 0, "alice") == [resource]
    assert store.find_unique("fabrikam", "User", 0, "alice") == []


def test_pages_are_in_id_order_without_gaps_or_repeats(store):
    for n in range(25):
        create(store, *user(f"u{n:02d}", f"user{n}"))
    first = store.page(ORG, "User", 10)
    second = store.page(ORG, "User", 10, first.last_id)
    third = store.page(ORG, "User", 10, second.last_id)
    ids = [r.id for page in (first, second, third) for r in page.resources]
    assert ids == [f"u{n:02d}" for n in range(25)]
    assert third.last_id is None
    assert [r.id for r in store.iterate(ORG, "User", page_size=7)] == ids
    assert store.count(ORG, "User") == 25

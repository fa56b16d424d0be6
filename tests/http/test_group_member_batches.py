"""A member change too large for one DynamoDB transaction is all or nothing for the client: once
its first transaction commits (with a pending marker), it is finished by the same request or, if
that request dies midway, by the group's next member write or deletion."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from provisioning import clients
from provisioning.scim.groups import GroupService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore
from tests.http.seeding import seed_users

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# 120 additions take three transactions (at most ~48 members each).
SIZE = 120


HOOK = "before-parameter-build.dynamodb.TransactWriteItems"
AFTER = "after-call.dynamodb.TransactWriteItems"


def writes_memberships(params: dict) -> bool:
    return any(
        item.get("Put", {}).get("Item", {}).get("sk", {}).get("S", "").startswith("MEMBER#")
        for item in params.get("TransactItems", [])
    )


class TransactionFailure:
    """Fails the n-th transaction from now on that writes memberships (as a throttled or timed
    out call would), once; `after_commit`: the call fails though DynamoDB applied it."""

    def __init__(self, nth: int, after_commit: bool = False) -> None:
        self.remaining = nth
        self.fired = False
        self.after_commit = after_commit
        self.sent: dict = {}

    def __call__(self, params: dict | None = None, **_: object) -> None:
        if self.after_commit:
            if params is not None:  # the request being built: remember it for after the call
                self.sent = params
                return
            params = self.sent
        if params is None or not writes_memberships(params):
            return
        self.remaining -= 1
        if self.remaining == 0:
            self.fired = True
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "injected"}},
                "TransactWriteItems",
            )


@pytest.fixture
def fail_transaction() -> Iterator[list[TransactionFailure]]:
    installed: list[TransactionFailure] = []
    events = clients.dynamodb().meta.events
    yield installed
    for failure in installed:
        events.unregister(HOOK, failure)
        events.unregister(AFTER, failure)


def inject(
    installed: list[TransactionFailure], nth: int, after_commit: bool = False
) -> TransactionFailure:
    failure = TransactionFailure(nth, after_commit)
    events = clients.dynamodb().meta.events
    events.register(HOOK, failure)
    if after_commit:
        events.register(AFTER, failure)
    installed.append(failure)
    return failure


def memberships() -> MembershipStore:
    return MembershipStore(clients.dynamodb(), get_settings().table_name)


def member_ids(client, group_id):
    return sorted(m["value"] for m in client.get(f"/Groups/{group_id}").json().get("members", []))


def add_members(client, group_id, users):
    return client.patch(
        f"/Groups/{group_id}",
        [{"op": "add", "path": "members", "value": [{"value": u} for u in users]}],
    )


@pytest.fixture
def interrupted(contoso, fail_transaction):
    """A group and a PATCH adding SIZE members whose second transaction failed."""
    users = seed_users("contoso", SIZE + 1)
    group = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Big"}).json()
    failure = inject(fail_transaction, 2)
    response = add_members(contoso, group["id"], users[:SIZE])
    assert failure.fired
    assert response.status >= 500
    return group["id"], users


def test_an_interrupted_patch_is_finished_by_the_next_member_write(contoso, interrupted):
    group_id, users = interrupted
    extra = users[SIZE]
    assert add_members(contoso, group_id, [extra]).status == 200
    assert member_ids(contoso, group_id) == sorted(users)


def test_an_interrupted_patch_leaves_a_pending_marker_until_finished(contoso, interrupted):
    group_id, users = interrupted
    pending = memberships().pending("contoso", group_id)
    assert pending is not None
    assert (pending.next_batch, pending.batches) == (1, 3)
    assert add_members(contoso, group_id, [users[SIZE]]).status == 200
    assert memberships().pending("contoso", group_id) is None


def test_a_later_patch_that_changes_nothing_yet_waits_for_the_pending_change(contoso, interrupted):
    """The pending change still adds the last members; removing one of them afterwards must
    win, though against what is written so far the removal changes nothing."""
    group_id, users = interrupted
    last = users[SIZE - 1]
    path = f"/Groups/{group_id}"
    response = contoso.patch(path, [{"op": "remove", "path": f'members[value eq "{last}"]'}])
    assert response.status == 200
    assert member_ids(contoso, group_id) == sorted(set(users[:SIZE]) - {last})


def test_a_retried_patch_ends_with_every_member_once(contoso, interrupted):
    """Entra and Okta retry a request that failed: the retry finds the change decided."""
    group_id, users = interrupted
    retried = add_members(contoso, group_id, users[:SIZE])
    assert retried.status == 200
    assert sorted(m["value"] for m in retried.json()["members"]) == sorted(users[:SIZE])
    assert memberships().pending("contoso", group_id) is None


def test_deleting_the_group_finishes_its_pending_change_first(contoso, interrupted):
    group_id, users = interrupted
    assert contoso.delete(f"/Groups/{group_id}").status == 204
    assert memberships().pending("contoso", group_id) is None
    # The purge task removed every membership, including those the pending change added.
    assert list(memberships().members("contoso", group_id)) == []
    for user_id in (users[0], users[SIZE - 1]):
        assert contoso.get(f"/Users/{user_id}").json().get("groups", []) == []


def test_a_user_deleted_while_the_change_is_pending_is_not_added(contoso, interrupted):
    group_id, users = interrupted
    gone = users[SIZE - 1]  # in the last batch, not yet written
    assert contoso.delete(f"/Users/{gone}").status == 204
    assert add_members(contoso, group_id, [users[SIZE]]).status == 200
    assert member_ids(contoso, group_id) == sorted(set(users) - {gone})


def test_concurrent_continuations_apply_each_batch_once(stack, interrupted):
    group_id, users = interrupted
    table = get_settings().table_name
    client = clients.dynamodb()

    def finish(_: int) -> None:
        groups = GroupService(ResourceStore(client, table), MembershipStore(client, table), table)
        groups._changes("contoso", group_id, set(), set()).finish_pending()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(finish, range(3)))
    assert memberships().pending("contoso", group_id) is None
    assert sorted(memberships().members("contoso", group_id)) == sorted(users[:SIZE])


def test_a_failed_first_transaction_writes_nothing(contoso, fail_transaction):
    users = seed_users("contoso", SIZE)
    group = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Big"}).json()
    inject(fail_transaction, 1)
    assert add_members(contoso, group["id"], users).status >= 500
    assert memberships().pending("contoso", group["id"]) is None
    assert member_ids(contoso, group["id"]) == []
    after = contoso.get(f"/Groups/{group['id']}").json()
    assert after["meta"]["version"] == group["meta"]["version"]
    # Nothing of the change is left behind: its later batches were discarded.
    leftovers = clients.dynamodb().query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"ORG#contoso#GROUP#{group['id']}#PENDING"}},
    )
    assert leftovers["Items"] == []


def test_a_first_transaction_that_committed_despite_an_error_is_finished(contoso, fail_transaction):
    """A call can fail after DynamoDB applied it (a timeout on the way back): the marker shows
    the change was decided, so it is finished rather than its later batches thrown away."""
    users = seed_users("contoso", SIZE)
    group = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Big"}).json()
    failure = inject(fail_transaction, 1, after_commit=True)
    response = add_members(contoso, group["id"], users)
    assert failure.fired
    assert response.status == 200, response.body
    assert member_ids(contoso, group["id"]) == sorted(users)
    assert memberships().pending("contoso", group["id"]) is None

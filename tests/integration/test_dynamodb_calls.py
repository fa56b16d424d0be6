"""How many DynamoDB calls each user operation makes: one key lookup or one query per read, one
transaction per write, and never a Scan."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from provisioning import clients

# What the request itself costs: the function serving it, and the purge worker it triggers.
REQUEST_FUNCTIONS = ("UsersFunction", "PurgeFunction")


class CallCounter:
    """Counts calls per function: the local stack runs each invocation in its function's
    environment, so the caller is the function Lambda would bill."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()

    def __call__(self, model, **_):  # botocore's before-call event
        function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.calls[function.rsplit("-", 1)[-1], model.name] += 1

    @contextmanager
    def measure(self, *functions: str) -> Iterator[Counter[str]]:
        """The calls of `functions` (default: the request's) while the block runs."""
        wanted = functions or REQUEST_FUNCTIONS
        self.calls.clear()
        snapshot: Counter[str] = Counter()
        yield snapshot
        for (function, name), count in self.calls.items():
            if function in wanted:
                snapshot[name] += count


@pytest.fixture
def counter(stack):
    counting = CallCounter()
    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb", counting)
    yield counting
    events.unregister("before-call.dynamodb", counting)


def test_calls_per_user_operation(contoso, counter):
    with counter.measure() as create:
        user = contoso.create_user(
            "calls@contoso.com",
            externalId="ext-calls",
            emails=[{"value": "Calls@Contoso.com", "type": "work", "primary": True}],
        )
    path = f"/Users/{user['id']}"
    with counter.measure() as get:
        contoso.get(path)
    with counter.measure() as by_user_name:
        contoso.get('/Users?filter=userName eq "CALLS@contoso.com"')
    with counter.measure() as by_external_id:
        contoso.get('/Users?filter=externalId eq "ext-calls"')
    with counter.measure() as by_email:
        contoso.get('/Users?filter=emails[type eq "work" and value eq "calls@CONTOSO.com"]')
    with counter.measure() as by_email_value:
        contoso.get('/Users?filter=emails.value eq "CALLS@contoso.com"')
    with counter.measure() as first_page:
        contoso.get("/Users?startIndex=1&count=100")
    with counter.measure() as patch, counter.measure("FanoutFunction") as suspension:
        contoso.patch(path, [{"op": "replace", "path": "active", "value": False}])
    with counter.measure() as unchanged_patch:
        contoso.patch(path, [{"op": "replace", "path": "active", "value": False}])
    with counter.measure() as put:
        contoso.put(path, {"userName": "calls@contoso.com"})
    with counter.measure() as delete:
        contoso.delete(path)

    # Every rendered user costs one more Query: its direct groups (GSI1), unless excluded.
    # No read after the commit: a user just created is in no group.
    assert create == {"TransactWriteItems": 1}
    assert get == {"GetItem": 1, "Query": 1}
    assert by_user_name == {"Query": 2}
    assert by_external_id == {"Query": 2}
    # The e-mail index names the users (one Query), then they are read by key (one batch).
    assert by_email == by_email_value == {"Query": 2, "BatchGetItem": 1}
    assert first_page == {"GetItem": 1, "Query": 2}
    assert patch == {"GetItem": 1, "TransactWriteItems": 1, "Query": 1}
    # The deactivation's User.StatusChanged, in the fan-out: the user's access records (one
    # Query; none here, so no write), the user, and the idempotency record's put and update.
    assert suspension == {"Query": 1, "GetItem": 1, "PutItem": 1, "UpdateItem": 1}
    assert unchanged_patch == {"GetItem": 1, "Query": 1}
    assert put == {"GetItem": 1, "TransactWriteItems": 1, "Query": 1}
    # The request: the user's memberships are looked up (GSI1) and removed, then the user goes
    # with a purge task; the purge worker's round (the local stack runs it before returning)
    # checks GSI1 once more and closes the task.
    assert delete == {"GetItem": 2, "Query": 2, "TransactWriteItems": 2}


def test_excluding_groups_skips_their_query(contoso, counter):
    user = contoso.create_user("lean@contoso.com")
    with counter.measure() as get:
        contoso.get(f"/Users/{user['id']}?excludedAttributes=groups")
    assert get == {"GetItem": 1}


def test_a_page_of_users_reads_their_groups_in_one_batch(contoso, counter):
    """Each listed user's memberships are one Query (GSI1, per user), and the groups they name
    are read once for the whole page (one BatchGetItem per 100 distinct groups), not per user."""
    listed = [contoso.create_user(f"member{n}@contoso.com")["id"] for n in range(5)]
    for name in ("Sales", "Ops"):
        contoso.post("/Groups", {"displayName": name, "members": [{"value": u} for u in listed]})
    with counter.measure() as page:
        response = contoso.get("/Users?count=5")
    assert page == {"GetItem": 1, "Query": 1 + 5, "BatchGetItem": 1}
    groups = [sorted(g["display"] for g in user["groups"]) for user in response.json()["Resources"]]
    assert groups == [["Ops", "Sales"]] * 5

"""The search engine on DynamoDB (moto): what each kind of query reads, and that what cannot be
bounded is refused rather than read whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from scim2_models import InvalidCursorException, InvalidValueException, TooManyException

from provisioning import clients
from provisioning.scim.cursor import CursorCodec, cursor_key
from provisioning.scim.groups import GroupService
from provisioning.scim.query import ListQuery, parse_list_query
from provisioning.scim.resources import GROUP, USER, ResourceKind
from provisioning.scim.search import ListResult, ResourceSearch
from provisioning.scim.service import ResourceService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore

ORG = "contoso"
CODEC = CursorCodec(cursor_key(ORG, "Bearer test"))


@pytest.fixture
def store(stack) -> ResourceStore:
    return ResourceStore(clients.dynamodb(), get_settings().table_name)


@pytest.fixture
def calls(stack) -> Iterator[Counter[str]]:
    """DynamoDB calls by operation name, while the test runs."""
    counted: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counted[model.name] += 1

    events = clients.dynamodb().meta.events
    events.register("before-call.dynamodb", count)
    yield counted
    events.unregister("before-call.dynamodb", count)


@contextmanager
def measuring(calls: Counter[str]) -> Iterator[Counter[str]]:
    calls.clear()
    snapshot: Counter[str] = Counter()
    yield snapshot
    snapshot.update(calls)


def seed(store: ResourceStore, kind: ResourceKind, bodies: list[dict[str, Any]]) -> list[str]:
    ids = iter(f"{kind.name.lower()}-{n:03d}" for n in range(len(bodies)))
    service = ResourceService(store, kind, new_id=lambda: next(ids))
    return [service.create(ORG, body).id for body in bodies]


def users(store: ResourceStore, count: int) -> list[str]:
    return seed(
        store,
        USER,
        [
            {"userName": f"user{n:03d}@contoso.com", "externalId": f"ext-{n}", "active": n % 2 == 0}
            for n in range(count)
        ],
    )


def searcher(store: ResourceStore, kinds: list[ResourceKind], **options: Any) -> ResourceSearch:
    table = get_settings().table_name
    return ResourceSearch(store, MembershipStore(clients.dynamodb(), table), kinds, **options)


def run(
    search: ResourceSearch, params: dict[str, str], cursor: str | None = None
) -> tuple[ListQuery, ListResult]:
    if cursor is not None:
        params = {**params, "cursor": cursor}
    query = parse_list_query(params, search.models)
    return query, search.query(ORG, query, CODEC)


def ids(result: ListResult) -> list[str]:
    return [found.stored.id for found in result.resources]


def test_an_or_of_equalities_reads_only_what_it_names(store, calls):
    users(store, 20)
    search = searcher(store, [USER])
    text = 'userName eq "USER003@contoso.com" or externalId eq "ext-7" or id eq "user-011"'
    with measuring(calls) as made:
        _, result = run(search, {"filter": text})
    assert ids(result) == ["user-003", "user-007", "user-011"]
    assert result.total == 3
    assert made == {"Query": 2, "BatchGetItem": 1}  # one index read per attribute value


def test_an_and_reads_its_indexed_term_and_filters_the_rest(store, calls):
    users(store, 20)
    search = searcher(store, [USER])
    with measuring(calls) as made:
        _, result = run(search, {"filter": 'externalId eq "ext-4" and active eq false'})
    assert ids(result) == []
    assert made == {"Query": 1}
    assert ids(run(search, {"filter": 'externalId eq "ext-4" and active eq true'})[1]) == [
        "user-004"
    ]


def test_a_plain_listing_costs_the_counter_and_one_page(store, calls):
    users(store, 30)
    search = searcher(store, [USER])
    with measuring(calls) as made:
        _, result = run(search, {"count": "5", "startIndex": "11"})
    assert ids(result) == [f"user-{n:03d}" for n in range(10, 15)]
    assert result.total == 30
    assert made == {"GetItem": 1, "Query": 2}  # the skipped ten by key only, then the page


def test_a_cursor_page_of_a_listing_resumes_by_key(store, calls):
    users(store, 30)
    search = searcher(store, [USER])
    _, first = run(search, {"count": "5"}, cursor="")
    assert first.next_cursor is not None
    with measuring(calls) as made:
        _, second = run(search, {"count": "5"}, cursor=first.next_cursor)
    assert ids(second) == [f"user-{n:03d}" for n in range(5, 10)]
    assert made == {"GetItem": 1, "Query": 1}  # no re-reading of the first page


def test_count_zero_of_a_listing_reads_only_the_counter(store, calls):
    users(store, 3)
    with measuring(calls) as made:
        _, result = run(searcher(store, [USER]), {"count": "0"})
    assert (result.total, result.resources) == (3, [])
    assert made == {"GetItem": 1}


def test_an_unindexed_filter_over_a_small_directory_is_answered_exactly(store):
    users(store, 12)
    search = searcher(store, [USER], scan_limit=12)
    _, result = run(search, {"filter": "active eq true", "count": "2", "startIndex": "3"})
    assert result.total == 6
    assert ids(result) == ["user-004", "user-006"]


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "active eq true"},
        {"filter": "active eq true", "count": "0"},
        {"sortBy": "userName"},
        {"sortBy": "userName", "cursor": ""},
        {"filter": "active eq true", "count": "0", "cursor": ""},
    ],
)
def test_what_would_read_past_the_scan_limit_is_too_many(store, calls, params):
    users(store, 12)
    search = searcher(store, [USER], scan_limit=5)
    with measuring(calls) as made, pytest.raises(TooManyException) as caught:
        run(search, params)
    assert (caught.value.status, caught.value.scim_type) == (400, "tooMany")
    assert made == {"GetItem": 1}  # the counter told, nothing else was read


def test_cursor_pages_of_an_unindexed_filter_read_at_most_the_scan_limit(store, calls):
    users(store, 12)
    search = searcher(store, [USER], scan_limit=5)
    seen: list[str] = []
    cursor = ""
    pages = 0
    while cursor is not None:
        with measuring(calls) as made:
            _, result = run(search, {"filter": "active eq true", "count": "2"}, cursor=cursor)
        assert result.total is None  # RFC 9865 §2: omitted when only a full read could tell
        assert len(result.resources) <= 2
        assert made["Query"] == 1  # one page of at most scan_limit + 1 items
        seen += ids(result)
        cursor = result.next_cursor
        pages += 1
    assert seen == [f"user-{n:03d}" for n in range(0, 12, 2)]
    assert pages >= 3


def test_root_search_plans_each_type_on_its_own(store, calls):
    users(store, 5)
    seed(store, GROUP, [{"displayName": "Sales"}, {"displayName": "Support"}])
    search = searcher(store, [USER, GROUP])
    text = 'userName eq "user001@contoso.com" or displayName eq "SALES"'
    with measuring(calls) as made:
        _, result = run(search, {"filter": text})
    assert [(f.kind.name, f.stored.id) for f in result.resources] == [
        ("User", "user-001"),
        ("Group", "group-000"),
    ]
    # A user's displayName is not unique, so users are paged through (counter + one page);
    # groups are read by their displayName index (userName is no group attribute: no read).
    assert made == {"GetItem": 1, "Query": 2}


def test_root_search_by_id_reads_each_type_by_key(store, calls):
    users(store, 2)
    seed(store, GROUP, [{"displayName": "Sales"}])
    search = searcher(store, [USER, GROUP])
    with measuring(calls) as made:
        _, result = run(search, {"filter": 'id eq "user-001" or id eq "group-000"'})
    assert ids(result) == ["user-001", "group-000"]
    assert made == {"BatchGetItem": 2}


def test_root_listing_pages_across_types_in_order(store):
    users(store, 3)
    seed(store, GROUP, [{"displayName": "Sales"}, {"displayName": "Support"}])
    search = searcher(store, [USER, GROUP])
    _, page = run(search, {"startIndex": "3", "count": "2"})
    assert page.total == 5
    assert [(f.kind.name, f.stored.id) for f in page.resources] == [
        ("User", "user-002"),
        ("Group", "group-000"),
    ]
    _, last = run(search, {"startIndex": "5", "count": "2"})
    assert ids(last) == ["group-001"]


def test_sorting_orders_across_types_with_missing_values_last(store):
    seed(store, USER, [{"userName": "b"}, {"userName": "A", "displayName": "zed"}])
    seed(store, GROUP, [{"displayName": "Marketing"}])
    search = searcher(store, [USER, GROUP])
    _, ascending = run(search, {"sortBy": "displayName"})
    assert ids(ascending) == ["group-000", "user-001", "user-000"]
    _, descending = run(search, {"sortBy": "displayName", "sortOrder": "descending"})
    assert ids(descending) == ["user-000", "user-001", "group-000"]


def test_entra_asks_whether_a_user_is_a_member_of_a_group(store, calls):
    members = users(store, 3)
    groups = GroupService(
        store,
        MembershipStore(clients.dynamodb(), get_settings().table_name),
        get_settings().table_name,
    )
    sales = groups.create(ORG, {"displayName": "Sales", "members": [{"value": members[1]}]}).id
    groups.create(ORG, {"displayName": "Support", "members": [{"value": members[1]}]})
    search = searcher(store, [GROUP])
    member = f'id eq "{sales}" and members eq "{members[1]}"'
    with measuring(calls) as made:
        _, found = run(search, {"filter": member, "attributes": "id"})
    assert ids(found) == [sales]
    assert made == {"BatchGetItem": 1, "Query": 1}  # the group by id; the user's groups (GSI1)
    assert ids(run(search, {"filter": f'id eq "{sales}" and members eq "{members[0]}"'})[1]) == []
    assert len(ids(run(search, {"filter": f'members[value eq "{members[1]}"]'})[1])) == 2
    assert (
        ids(
            run(
                search,
                {"filter": f'displayName eq "Sales" and not (members.value eq "{members[1]}")'},
            )[1]
        )
        == []
    )


def test_a_cursor_of_one_endpoint_means_nothing_to_another(store):
    users(store, 3)
    seed(store, GROUP, [{"displayName": "Sales"}, {"displayName": "Support"}])
    _, page = run(searcher(store, [USER]), {"count": "1"}, cursor="")
    assert page.next_cursor is not None
    with pytest.raises(InvalidCursorException):
        run(searcher(store, [GROUP]), {"count": "1"}, cursor=page.next_cursor)
    with pytest.raises(InvalidCursorException):
        run(searcher(store, [USER, GROUP]), {"count": "1"}, cursor=page.next_cursor)


def test_a_cursor_page_of_a_listing_reads_no_more_than_it_returns(store, stack):
    users(store, 30)
    limits: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        limits.append(params.get("Limit", 0))

    events = clients.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.Query", record)
    try:
        run(searcher(store, [USER]), {"count": "5"}, cursor="")
    finally:
        events.unregister("provide-client-params.dynamodb.Query", record)
    assert limits == [6]  # the page and one more, to know whether a next page exists


@pytest.mark.parametrize("start", ["1", "2", "29", "30", "31", "100"])
def test_index_pages_start_where_they_say_whatever_the_offset(store, start):
    users(store, 30)
    _, result = run(searcher(store, [USER]), {"count": "3", "startIndex": start})
    first = int(start) - 1
    assert ids(result) == [f"user-{n:03d}" for n in range(first, min(first + 3, 30))]


def test_an_equality_with_an_empty_string_pages_instead_of_reading_an_index(store):
    seed(store, USER, [{"userName": "a", "externalId": ""}, {"userName": "b", "externalId": "x"}])
    search = searcher(store, [USER])
    assert ids(run(search, {"filter": 'userName eq ""'})[1]) == []
    assert ids(run(search, {"filter": 'externalId eq ""'})[1]) == ["user-000"]
    assert ids(run(search, {"filter": 'externalId eq "" or id eq "user-001"'})[1]) == [
        "user-000",
        "user-001",
    ]


def test_a_member_id_longer_than_any_key_matches_nothing(store):
    seed(store, GROUP, [{"displayName": "Sales"}])
    search = searcher(store, [GROUP])
    assert ids(run(search, {"filter": f'members eq "{"x" * 2100}"'})[1]) == []


def mailboxes(store: ResourceStore, count: int) -> list[str]:
    """Users with a work address (primary) and a home one, as Entra and Okta provision them."""
    return seed(
        store,
        USER,
        [
            {
                "userName": f"user{n:03d}@contoso.com",
                "emails": [
                    {"value": f"Work{n}@Contoso.com", "type": "work", "primary": True},
                    {"value": f"home{n}@example.org", "type": "home"},
                ],
            }
            for n in range(count)
        ],
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('emails[value eq "WORK7@contoso.COM"]', ["user-007"]),
        ('emails.value eq "work7@contoso.com"', ["user-007"]),
        ('emails eq "Home8@Example.org"', ["user-008"]),
        ('emails[type eq "work" and value eq "work9@contoso.com"]', ["user-009"]),
        ('emails[type eq "work" and value eq "home9@example.org"]', []),
        (
            'emails[value eq "home3@example.org" or value eq "work4@contoso.com"]',
            ["user-003", "user-004"],
        ),
        ('emails[value eq "nobody@contoso.com"]', []),
    ],
)
def test_an_email_equality_is_an_index_read_whatever_the_directory_size(
    store, calls, text, expected
):
    """Entra and Okta match an existing user by e-mail: past the scan limit this is still one
    Query on the e-mail index and one BatchGetItem of the users it names (never `tooMany`)."""
    mailboxes(store, 12)
    search = searcher(store, [USER], scan_limit=5)
    with measuring(calls) as made:
        _, result = run(search, {"filter": text})
    assert ids(result) == expected
    assert result.total == len(expected)
    reads = text.count("value eq") + text.count("emails eq")
    assert made["Query"] == reads
    assert set(made) <= {"Query", "BatchGetItem"}
    # The users the index names are read (then filtered: a home address is not a work one).
    assert made["BatchGetItem"] == (0 if "nobody" in text else 1)


def test_an_external_id_equality_is_one_query_whatever_the_directory_size(store, calls):
    users(store, 12)
    search = searcher(store, [USER], scan_limit=1)
    with measuring(calls) as made:
        _, result = run(search, {"filter": 'externalId eq "ext-7"'})
    assert ids(result) == ["user-007"]
    assert made == {"Query": 1}


def value_index(store: ResourceStore) -> list[tuple[str, str]]:
    """The e-mail index items of the organization: (owner, key)."""
    client = clients.dynamodb()
    response = client.query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :value)",
        ExpressionAttributeValues={":pk": {"S": f"ORG#{ORG}"}, ":value": {"S": "VALUE#"}},
    )
    return sorted((item["ownerId"]["S"], item["gsi1sk"]["S"]) for item in response["Items"])


def test_the_email_index_follows_the_user_in_its_own_transactions(store, calls):
    service = ResourceService(store, USER, new_id=lambda: "user-000")
    email = [{"value": "Ann@Contoso.com"}, {"value": "ann@contoso.COM", "type": "work"}]
    with measuring(calls) as made:
        service.create(ORG, {"userName": "ann", "emails": email})
    assert made == {"TransactWriteItems": 1}
    assert value_index(store) == [("user-000", "ann@contoso.com")]

    with measuring(calls) as made:
        service.replace(
            ORG, "user-000", {"userName": "ann", "emails": [{"value": "ann@fabrikam.com"}]}
        )
    assert made == {"GetItem": 1, "TransactWriteItems": 1}
    assert value_index(store) == [("user-000", "ann@fabrikam.com")]
    search = searcher(store, [USER], scan_limit=0)
    assert ids(run(search, {"filter": 'emails eq "ann@contoso.com"'})[1]) == []
    assert ids(run(search, {"filter": 'emails eq "ANN@fabrikam.com"'})[1]) == ["user-000"]

    service.patch(
        ORG,
        "user-000",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "add", "path": "emails", "value": [{"value": "a@x.org", "type": "home"}]}
            ],
        },
    )
    assert value_index(store) == [("user-000", "a@x.org"), ("user-000", "ann@fabrikam.com")]
    with measuring(calls) as made:
        service.delete(ORG, "user-000")
    assert made == {"GetItem": 1, "TransactWriteItems": 1}
    assert value_index(store) == []


def test_a_user_holds_a_bounded_number_of_email_addresses(store):
    from provisioning.scim.resources import MAX_INDEXED_VALUES

    service = ResourceService(store, USER)
    many = [{"value": f"a{n}@contoso.com"} for n in range(MAX_INDEXED_VALUES)]
    # Case variants are one address: they take one index item.
    service.create(ORG, {"userName": "fits", "emails": [*many, {"value": "A0@CONTOSO.com"}]})
    with pytest.raises(InvalidValueException) as caught:
        service.create(ORG, {"userName": "too-many", "emails": [*many, {"value": "b@x.org"}]})
    assert caught.value.scim_type == "invalidValue"
    assert "emails.value" in str(caught.value.detail)


def test_index_pages_past_the_walk_limit_continue_where_the_page_before_ended(store, calls):
    """Okta imports page by startIndex, in order: each page past the limit starts where the one
    before it ended (one GetItem), instead of reading every item before it."""
    users(store, 12)
    search = searcher(store, [USER], scan_limit=5)
    seen: list[str] = []
    costs = []
    for start in (1, 4, 7, 10, 13):
        with measuring(calls) as made:
            _, result = run(search, {"count": "3", "startIndex": str(start)})
        assert result.total == 12
        seen += ids(result)
        costs.append(dict(made))
    assert seen == [f"user-{n:03d}" for n in range(12)]
    # startIndex 4 walks 3 keys (within the limit) and notes where its page ends (offset 6,
    # past the limit); 7 starts from that note and leaves its own, which 10 starts from (the
    # last page: nothing follows it to note).
    assert costs[1] == {"GetItem": 1, "Query": 2, "PutItem": 1}
    assert costs[2] == {"GetItem": 2, "Query": 1, "PutItem": 1}
    assert costs[3] == {"GetItem": 2, "Query": 1}
    assert costs[4] == {"GetItem": 1}  # past the end: the counter says so


def test_a_deep_start_index_no_page_ended_at_is_too_many(store, calls):
    users(store, 12)
    search = searcher(store, [USER], scan_limit=5)
    with measuring(calls) as made, pytest.raises(TooManyException) as caught:
        run(search, {"count": "3", "startIndex": "8"})
    assert (caught.value.status, caught.value.scim_type) == (400, "tooMany")
    assert "cursor" in str(caught.value.detail)
    assert made == {"GetItem": 2}  # the counter and the missing note: nothing was walked
    _, within = run(search, {"count": "3", "startIndex": "6"})  # offset 5: walked, exact
    assert ids(within) == ["user-005", "user-006", "user-007"]


def test_a_root_listing_continues_across_types_past_the_walk_limit(store):
    users(store, 4)
    seed(store, GROUP, [{"displayName": f"G{n}"} for n in range(4)])
    search = searcher(store, [USER, GROUP], scan_limit=2)
    seen = [
        found
        for start in (1, 3, 5, 7)
        for found in run(search, {"count": "2", "startIndex": str(start)})[1].resources
    ]
    assert [(f.kind.name, f.stored.id) for f in seen] == [
        *(("User", f"user-{n:03d}") for n in range(4)),
        *(("Group", f"group-{n:03d}") for n in range(4)),
    ]

"""Properties of the search engine on DynamoDB (moto), for random small directories:

- a filter answered through the indexes (equality on `id`, `userName`, `externalId`,
  `displayName`, a user's e-mail addresses in every form Entra and Okta send, and `and` / `or` of
  such terms) selects exactly the resources, and the total, that paging through every resource
  selects (issues 5 and 13), on /Users, /Groups and the root;
- walking cursor pages (RFC 9865) returns the result of one index page, in the same order, each
  resource once, with and without `sortBy`;
- with a small scan limit, cursor pages of a filter no index answers come back short, without
  `totalResults`, and still cover the whole result; index paging is refused with `tooMany`.

User names, external ids, display names and e-mail local parts come from a tiny alphabet of case
variants (and `ß`/`ẞ`/`ss`, Greek final sigma), so values collide in every way the uniqueness
rules allow: userName and a group's displayName are unique case-insensitively, externalId
case-exactly; e-mail addresses are not unique, and compare case-insensitively.
Canonically equivalent spellings (`é` / `e` + U+0301, the Kelvin sign / `K`) get a property of
their own.

Every example writes a fresh organization into the one moto table of the test (and removes the
previous example's).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from scim2_models import TooManyException

from provisioning import clients
from provisioning.scim.cursor import CursorCodec, cursor_key
from provisioning.scim.groups import GroupService
from provisioning.scim.query import parse_list_query
from provisioning.scim.resources import GROUP, USER, ResourceKind
from provisioning.scim.search import ListResult, ResourceSearch, index_plan
from provisioning.scim.users import UserService
from provisioning.settings import get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore, StoredResource

# Example counts keep this file near 45 s on two cores; each example writes a fresh directory.
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

SCOPES: dict[str, tuple[ResourceKind, ...]] = {
    "Users": (USER,),
    "Groups": (GROUP,),
    "root": (USER, GROUP),
}

# Case variants that collide under the service's keys (casefold) in more ways than ASCII does:
# sharp s and capital sharp s both casefold to "ss"; capital sigma lowers to sigma, or to final
# sigma at the end of a word, and both casefold to sigma.
CASE_LETTERS = ("a", "A", "s", "S", "\u00df", "\u1e9e", "\u03c3", "\u03c2", "\u03a3")
# Canonically equivalent spellings (NFC and NFD forms; U+212A KELVIN SIGN is "K" under NFC),
# first, as hypothesis draws the first ones most.
CANONICAL_LETTERS = ("\u00e9", "e\u0301", "\u212a", "\u00c9", "E\u0301", "K", "e", "E", "k")
TITLES = ("Eng", "eng", "Ops")
UNIQUE_NAMES = ("userName", "externalId", "displayName")
# Domains that differ only in case: an address's domain is case-insensitive, as its local part is
# under SCIM's caseExact=false (RFC 7643 §4.1.2).
DOMAINS = ("contoso.com", "Contoso.COM", "fabrikam.org")
EMAIL_TYPES = ("work", "home")
PAGE_LIMIT = 200
CODEC_CREDENTIAL = "Bearer property-test"


# --- the world --------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    store: ResourceStore
    memberships: MembershipStore
    users: UserService
    groups: GroupService
    organizations: list[str] = field(default_factory=list)

    def search(self, kinds: Sequence[ResourceKind], **options: Any) -> ResourceSearch:
        return ResourceSearch(self.store, self.memberships, kinds, **options)

    def new_organization(self) -> str:
        """A fresh organization id, after removing the previous examples' items: moto answers
        a query on a GSI by reading the whole table, so a table that only grew would make
        every example (and every shrink) slower than the one before."""
        client = clients.dynamodb()
        table = get_settings().table_name
        while self.organizations:
            org_id = self.organizations.pop()
            keys = [
                {"pk": item["pk"], "sk": item["sk"]}
                for pk in (f"ORG#{org_id}", f"OUTBOX#{org_id}")
                for page in client.get_paginator("query").paginate(
                    TableName=table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": pk}},
                    ProjectionExpression="pk, sk",
                )
                for item in page["Items"]
            ]
            for start in range(0, len(keys), 25):
                client.batch_write_item(
                    RequestItems={
                        table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]
                    }
                )
        org_id = f"prop-{uuid.uuid4().hex[:12]}"
        self.organizations.append(org_id)
        return org_id


@pytest.fixture
def world(stack) -> World:
    table = get_settings().table_name
    store = ResourceStore(clients.dynamodb(), table)
    memberships = MembershipStore(clients.dynamodb(), table)
    users = UserService(store, memberships, table)
    return World(store, memberships, users, GroupService(store, memberships, table))


@dataclass(frozen=True)
class Directory:
    """Bodies of the users and groups to create, already unique as the service requires."""

    users: tuple[dict[str, Any], ...]
    groups: tuple[dict[str, Any], ...]

    def addresses(self) -> list[str]:
        """The e-mail addresses the users hold."""
        return sorted(
            {
                entry["value"]
                for body in self.users
                for entry in body.get("emails", [])
                if isinstance(entry.get("value"), str)
            }
        )

    def values(self, *attributes: str) -> list[str]:
        """The strings these attributes hold (all three compared ones by default)."""
        names = attributes or ("userName", "externalId", "displayName")
        return sorted(
            {
                value
                for body in (*self.users, *self.groups)
                for name in names
                if isinstance(value := body.get(name), str)
            }
        )


@dataclass(frozen=True)
class Created:
    org_id: str
    ids: tuple[str, ...]
    cursors: CursorCodec


def create(world: World, directory: Directory) -> Created:
    """The directory in a fresh organization, through the services (as POST would)."""
    org_id = world.new_organization()
    ids = [world.users.create(org_id, dict(body)).id for body in directory.users]
    ids += [world.groups.create(org_id, dict(body)).id for body in directory.groups]
    return Created(org_id, tuple(ids), CursorCodec(cursor_key(org_id, CODEC_CREDENTIAL)))


# --- strategies -------------------------------------------------------------------------------


def words(letters: Sequence[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(letters), min_size=1, max_size=2).map("".join)


def distinct(bodies: list[dict[str, Any]], kind: ResourceKind) -> tuple[dict[str, Any], ...]:
    """Keep the bodies whose unique values (by the service's own keys) are still free."""
    taken: set[tuple[str, str]] = set()
    kept = []
    for body in bodies:
        keys = {
            (unique.name, unique.key(body[unique.name]))
            for unique in kind.unique
            if unique.name in body
        }
        if keys & taken:
            continue
        taken |= keys
        kept.append(body)
    return tuple(kept)


def directories(letters: Sequence[str], min_users: int = 1) -> st.SearchStrategy[Directory]:
    word = words(letters)
    email = st.fixed_dictionaries(
        {"value": st.tuples(word, st.sampled_from(DOMAINS)).map("@".join)},
        optional={"type": st.sampled_from(EMAIL_TYPES)},
    )
    user = st.fixed_dictionaries(
        {"userName": word},
        optional={
            "emails": st.lists(email, max_size=3),
            "externalId": word,
            "displayName": word,
            "active": st.booleans(),
            "title": st.sampled_from(TITLES),
        },
    )
    group = st.fixed_dictionaries({"displayName": word}, optional={"externalId": word})
    return st.builds(
        lambda users, groups: Directory(distinct(users, USER), distinct(groups, GROUP)),
        st.lists(user, min_size=min_users, max_size=min_users + 7),
        st.lists(group, max_size=5),
    )


def spellings(value: str) -> list[str]:
    """The value as a client might send it back: in another case or normalization form."""
    return sorted(
        {
            value,
            value.upper(),
            value.lower(),
            value.swapcase(),
            unicodedata.normalize("NFC", value),
            unicodedata.normalize("NFD", value),
        }
    )


def filters(
    scope: str,
    directory: Directory,
    created: Created,
    letters: Sequence[str],
    shape: str = "any",
) -> st.SearchStrategy[str]:
    """Filters over the scope's attributes, parenthesized. `equalities`: `and` / `or` of `eq`
    terms on id and the unique attributes (what the indexes are for); `unindexed`: terms no
    index answers, or a `not`; `any`: either, or any `and` / `or` / `not` of every kind of term.
    Compared values are mostly the directory's own, respelled."""

    def value(attribute: str) -> st.SearchStrategy[str]:
        """Mostly a value the attribute holds, or any value held, respelled; else a word."""
        choices = [words(letters)]
        for known in (directory.values(attribute), directory.values()):
            if known:
                respelled = st.sampled_from(known).flatmap(lambda v: st.sampled_from(spellings(v)))
                choices.append(respelled)
        return st.one_of(choices)

    ident = st.just("no-such-id")
    if created.ids:
        ident = st.one_of(
            ident, st.sampled_from(created.ids), st.sampled_from(created.ids).map(str.upper)
        )
    equalities = [
        ident.map(lambda v: f'id eq "{v}"'),
        value("externalId").map(lambda v: f'externalId eq "{v}"'),
        value("displayName").map(lambda v: f'displayName eq "{v}"'),
    ]
    others = [
        st.just("externalId pr"),
        value("displayName").map(lambda v: f'displayName co "{v[0]}"'),
    ]
    if scope != "Groups":
        equalities.append(value("userName").map(lambda v: f'userName eq "{v}"'))
        address = st.tuples(words(letters), st.sampled_from(DOMAINS)).map("@".join)
        if directory.addresses():
            held = st.sampled_from(directory.addresses())
            address = st.one_of(address, held.flatmap(lambda v: st.sampled_from(spellings(v))))
        # What Entra and Okta send to match an existing user, and the forms RFC 7644 §3.4.2.2
        # allows for the same question.
        equalities += [
            address.map(lambda v: f'emails[value eq "{v}"]'),
            address.map(lambda v: f'emails.value eq "{v}"'),
            address.map(lambda v: f'emails eq "{v}"'),
            st.tuples(st.sampled_from(EMAIL_TYPES), address).map(
                lambda t: f'emails[type eq "{t[0]}" and value eq "{t[1]}"]'
            ),
            st.tuples(address, address).map(
                lambda t: f'emails[value eq "{t[0]}" or value eq "{t[1]}"]'
            ),
        ]
        others += [
            st.sampled_from(EMAIL_TYPES).map(lambda v: f'emails[type eq "{v}"]'),
            st.just("emails pr"),
            value("userName").map(lambda v: f'userName sw "{v[0]}"'),
            st.sampled_from(["active eq true", "active eq false", "title pr"]),
            st.sampled_from(TITLES).map(lambda v: f'title eq "{v}"'),
        ]
    if scope == "root":
        others.append(
            st.sampled_from(["User", "Group"]).map(lambda t: f'meta.resourceType eq "{t}"')
        )

    def joined(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        )

    def negated(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return inner.map(lambda t: f"not ({t})")

    indexed = st.recursive(st.one_of(equalities), joined, max_leaves=4)
    every = st.recursive(
        st.one_of(equalities + others),
        lambda inner: st.one_of(joined(inner), negated(inner)),
        max_leaves=5,
    )
    unindexed = st.one_of(st.recursive(st.one_of(others), joined, max_leaves=3), negated(every))
    if shape == "equalities":
        return indexed
    if shape == "unindexed":
        return unindexed
    return st.one_of(indexed, every, unindexed)


SORT_KEYS = {
    "Users": ["userName", "externalId", "title", "displayName", "active", "meta.created"],
    "Groups": ["displayName", "externalId", "meta.lastModified"],
    "root": ["displayName", "externalId", "userName", "meta.created"],
}


# --- running queries --------------------------------------------------------------------------

Selection = list[tuple[str, str]]


def selected(result: ListResult) -> Selection:
    return [(found.kind.name, found.stored.id) for found in result.resources]


def run(search: ResourceSearch, created: Created, params: dict[str, str]) -> ListResult:
    query = parse_list_query(params, search.models)
    return search.query(created.org_id, query, created.cursors)


def cursor_pages(
    search: ResourceSearch, created: Created, params: dict[str, str]
) -> Iterator[ListResult]:
    """Every cursor page of a query, from an empty cursor to the page without one."""
    cursor = ""
    for _ in range(100):
        page = run(search, created, {**params, "cursor": cursor})
        yield page
        if page.next_cursor is None:
            return
        cursor = page.next_cursor
    raise AssertionError("the cursor never ended")


def ids_of(pages: list[ListResult]) -> Selection:
    return [item for page in pages for item in selected(page)]


class ExaminedCounter(ResourceStore):
    """The store, counting the resources a listing takes from it (those the engine examines;
    DynamoDB reads up to a page more per resource type, to know where to resume)."""

    examined = 0

    def iterate(
        self, org_id: str, kind: str, page_size: int = 500, after_id: str | None = None
    ) -> Iterator[StoredResource]:
        for resource in super().iterate(org_id, kind, page_size, after_id):
            self.examined += 1
            yield resource


def agree(world: World, created: Created, scope: str, text: str) -> None:
    """The same filter through the indexes and through paging: the same resources, in the same
    order, and the same total."""
    kinds = SCOPES[scope]
    params = {"filter": text, "count": str(PAGE_LIMIT)}
    indexed = run(world.search(kinds), created, params)
    paged = run(world.search(kinds, use_indexes=False), created, params)
    query = parse_list_query(params, world.search(kinds).models)
    assert query.filter is not None
    answered = [kind.name for kind in kinds if index_plan(query.filter.ast, kind) is not None]
    event(f"{scope}: index answers {'/'.join(answered) or 'nothing'}")
    event(f"{scope}: {'some' if paged.resources else 'no'} matches")
    assert (selected(indexed), indexed.total) == (selected(paged), paged.total), disagreement(
        text, indexed, paged
    )


def disagreement(text: str, indexed: ListResult, paged: ListResult) -> str:
    """What only one path selected, with code points escaped (NFC and NFD print alike)."""
    bodies = {
        (found.kind.name, found.stored.id): found.stored.body
        for found in (*indexed.resources, *paged.resources)
    }
    only = {
        "only through the indexes": set(selected(indexed)) - set(selected(paged)),
        "only by paging": set(selected(paged)) - set(selected(indexed)),
    }
    lines = [f"filter {text!a}: totals {indexed.total} (indexes), {paged.total} (paging)"]
    for path, keys in only.items():
        for key in sorted(keys):
            body = bodies[key]
            held = {name: body[name] for name in (*UNIQUE_NAMES, "emails") if name in body}
            lines.append(f"{path}: {key[0]} {held!a}")
    return "\n".join(lines)


# --- index and paging select the same resources -----------------------------------------------


@settings(PROPERTY, max_examples=40)
@given(directory=directories(CASE_LETTERS), data=st.data())
def test_index_and_paging_select_the_same_resources(world, directory, data):
    created = create(world, directory)
    for scope in SCOPES:
        for text in data.draw(
            st.lists(filters(scope, directory, created, CASE_LETTERS), min_size=3, max_size=3),
            label=f"{scope} filters",
        ):
            agree(world, created, scope, text)


# No shrinking: the minimal cases are the parametrized test below, and shrinking a failure of
# this property would take minutes.
@settings(PROPERTY, max_examples=30, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(directory=directories(CANONICAL_LETTERS), data=st.data())
def test_index_and_paging_agree_on_canonically_equivalent_values(world, directory, data):
    """The filter compares strings in NFC (scim2-models' comparison key; case-insensitively
    unless caseExact, RFC 7643 §2.2), so an index must find every value that compares equal:
    a canonically equivalent spelling included."""
    created = create(world, directory)
    for scope in SCOPES:
        # Only what an index answers can disagree with paging: mostly equalities, then anything.
        shaped = st.one_of(
            filters(scope, directory, created, CANONICAL_LETTERS, "equalities"),
            filters(scope, directory, created, CANONICAL_LETTERS),
        )
        for text in data.draw(st.lists(shaped, min_size=3, max_size=3), label=f"{scope} filters"):
            agree(world, created, scope, text)


@pytest.mark.parametrize(
    ("kind", "attribute", "stored", "asked"),
    [
        pytest.param(
            USER, "userName", "jos\u00e9", "JOSE\u0301", id="userName NFC stored, NFD asked"
        ),
        pytest.param(
            USER, "userName", "jose\u0301", "jos\u00e9", id="userName NFD stored, NFC asked"
        ),
        pytest.param(USER, "externalId", "\u212a-1", "K-1", id="externalId Kelvin sign"),
        pytest.param(GROUP, "displayName", "Caf\u00e9", "cafe\u0301", id="displayName NFC/NFD"),
    ],
)
def test_an_indexed_equality_finds_canonically_equivalent_values(
    world, kind, attribute, stored, asked
):
    """Found by paging (the filter compares NFC forms), so the index must find it too."""
    body: dict[str, Any] = {attribute: stored}
    if kind is USER and attribute != "userName":
        body["userName"] = "someone"
    service = world.users if kind is USER else world.groups
    org_id = world.new_organization()
    resource_id = service.create(org_id, body).id
    created = Created(org_id, (resource_id,), CursorCodec(cursor_key(org_id, CODEC_CREDENTIAL)))
    text = f'{attribute} eq "{asked}"'
    paged = run(world.search([kind], use_indexes=False), created, {"filter": text})
    indexed = run(world.search([kind]), created, {"filter": text})
    assert selected(paged) == [(kind.name, resource_id)]
    assert selected(indexed) == selected(paged)


# --- cursor pages -----------------------------------------------------------------------------


def queries(
    scope: str, directory: Directory, created: Created, sorted_too: bool, shape: str = "any"
) -> st.SearchStrategy[dict[str, str]]:
    """A list query's parameters (without paging): no filter or a random one, and a sort."""
    options: dict[str, st.SearchStrategy[str]] = {
        "filter": filters(scope, directory, created, CASE_LETTERS, shape)
    }
    if sorted_too:
        options["sortBy"] = st.sampled_from(SORT_KEYS[scope])
        options["sortOrder"] = st.sampled_from(["ascending", "descending"])
    return st.fixed_dictionaries({}, optional=options)


@settings(PROPERTY, max_examples=80)
@given(directory=directories(CASE_LETTERS), data=st.data())
def test_cursor_pages_walk_the_result_of_one_index_page(world, directory, data):
    """With or without a filter and a sort: the pages, in order, are the one big page."""
    created = create(world, directory)
    scope = data.draw(st.sampled_from(list(SCOPES)), label="scope")
    params = data.draw(queries(scope, directory, created, sorted_too=True), label="query")
    count = data.draw(st.integers(1, 4), label="count")
    search = world.search(SCOPES[scope])
    whole = run(search, created, {**params, "count": str(PAGE_LIMIT)})
    pages = list(cursor_pages(search, created, {**params, "count": str(count)}))
    walked = ids_of(pages)
    event(f"{len(pages)} pages")
    assert walked == selected(whole)
    assert len(set(walked)) == len(walked)
    assert all(len(page.resources) <= count for page in pages)
    assert all(page.total == whole.total for page in pages)  # every page is fully known here
    assert all(page.resources for page in pages[:-1])


@settings(PROPERTY, max_examples=60)
@given(directory=directories(CASE_LETTERS, min_users=4), data=st.data())
def test_short_cursor_pages_of_a_bounded_scan_cover_the_result(world, directory, data):
    """scan_limit=3: a filter no index answers, over more than 3 resources of the types it must
    page through, is answered by cursor pages that each examine at most 3 resources; such pages
    may be short (even empty), carry no totalResults (RFC 9865 §2), and together still hold the
    whole result, each once. Index paging of the same query is refused with tooMany."""
    limit = 3
    created = create(world, directory)
    scope = data.draw(st.sampled_from(list(SCOPES)), label="scope")
    shape = data.draw(st.sampled_from(["unindexed", "unindexed", "any"]), label="shape")
    text = data.draw(filters(scope, directory, created, CASE_LETTERS, shape), label="filter")
    params = {"filter": text}
    count = data.draw(st.integers(1, 4), label="count")
    kinds = SCOPES[scope]
    whole = run(world.search(kinds), created, {**params, "count": str(PAGE_LIMIT)})
    store = ExaminedCounter(clients.dynamodb(), get_settings().table_name)
    bounded = ResourceSearch(store, world.memberships, kinds, scan_limit=limit)

    sizes = {USER.name: len(directory.users), GROUP.name: len(directory.groups)}
    query = parse_list_query(params, bounded.models)
    assert query.filter is not None
    unplanned = [kind for kind in kinds if index_plan(query.filter.ast, kind) is None]
    scanned = sum(sizes[kind.name] for kind in unplanned) > limit
    event("bounded scan" if scanned else "fully known")

    pages = []
    for page in cursor_pages(bounded, created, {**params, "count": str(count)}):
        assert not scanned or store.examined <= limit
        store.examined = 0
        pages.append(page)
    walked = ids_of(pages)
    assert walked == selected(whole)
    assert len(set(walked)) == len(walked)
    assert all(len(page.resources) <= count for page in pages)
    if scanned:
        assert all(page.total is None for page in pages)
        with pytest.raises(TooManyException):
            run(bounded, created, {**params, "count": str(count)})
    else:
        assert all(page.total == whole.total for page in pages)
        assert selected(run(bounded, created, {**params, "count": str(PAGE_LIMIT)})) == walked


# --- index pages past the walk limit ----------------------------------------------------------


@settings(PROPERTY, max_examples=30)
@given(directory=directories(CASE_LETTERS), data=st.data())
def test_index_pages_in_order_walk_the_listing_past_any_walk_limit(world, directory, data):
    """Okta's import: startIndex=1, 1+count, ... With a walk limit of 0 to 3, the pages past it
    start where the page before ended, and together are the one big page, each resource once;
    a page past the limit that no page ended before is refused with tooMany."""
    created = create(world, directory)
    scope = data.draw(st.sampled_from(list(SCOPES)), label="scope")
    count = data.draw(st.integers(1, 4), label="count")
    limit = data.draw(st.integers(0, 3), label="walk limit")
    whole = run(world.search(SCOPES[scope]), created, {"count": str(PAGE_LIMIT)})
    bounded = world.search(SCOPES[scope], scan_limit=limit)
    walked: Selection = []
    for start in range(1, (whole.total or 0) + 1, count):
        page = run(bounded, created, {"count": str(count), "startIndex": str(start)})
        assert page.total == whole.total
        walked += selected(page)
    assert walked == selected(whole)
    # A fresh organization with the same directory has no notes: a deep page is refused.
    if (whole.total or 0) > limit + count + 1:
        fresh = create(world, directory)
        jump = str(limit + count + 2)
        with pytest.raises(TooManyException):
            run(bounded, fresh, {"count": str(count), "startIndex": jump})

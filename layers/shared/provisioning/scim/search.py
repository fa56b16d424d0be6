"""List and search requests (RFC 7644 §3.4.2, §3.4.3; RFC 9865): which resources a query selects,
in which order, and which page of them a request gets, at a bounded cost.

A filter an index answers (equality on `id`, a unique attribute or an indexed multi-valued one
such as a user's `emails`, a group's `members eq "<user id>"` through the user's memberships, and
`or` / `and` of such terms) reads only the resources it names. Any other filter, a sort or an
exact total needs the organization's resources of the endpoint's types: read whole while there
are at most `scan_limit` of them; beyond that, cursor pages examine at most `scan_limit`
resources each (DynamoDB may have read the rest of its last page of up to 500) and may come back
short, with a `nextCursor`; what cannot be bounded is refused with `tooMany`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import chain, islice
from typing import Any

from scim2_models import Path, Resource, ScimFilter, TooManyException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    ValuePath,
)

from provisioning.scim.cursor import CursorCodec
from provisioning.scim.ordering import SortKey
from provisioning.scim.query import ListQuery
from provisioning.scim.resources import (
    CURSOR_TIMEOUT_SECONDS,
    FILTER_SCAN_LIMIT,
    GROUP,
    ResourceKind,
)
from provisioning.scim.service import resource_model
from provisioning.store.dynamo import fits_key
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import IndexedValue, ResourceStore, StoredResource

MAX_INDEX_LOOKUPS = 100
"""The most index reads one filter may ask for before it is answered by paging instead."""

OrderKey = list[Any]
_GROUP_URN = str(GROUP.model.__schema__).casefold()


MEMBER_OF = -1
"""The `position` of a lookup of the groups a user (the value) is a member of."""


@dataclass(frozen=True)
class IndexLookup:
    """One index read: a resource by `id` (position None), by a unique attribute's key (its
    position in `kind.unique`), by an indexed multi-valued attribute's key (`len(kind.unique)`
    plus its position in `kind.indexed`), or the groups of a member (MEMBER_OF)."""

    kind: str
    value: str
    position: int | None


@dataclass(frozen=True)
class Found:
    kind: ResourceKind
    stored: StoredResource

    @cached_property
    def model(self) -> Resource[Any]:
        """The stored body as its model, validated once for the filter and the sort alike."""
        return resource_model(self.kind, self.stored)


@dataclass(frozen=True)
class ListResult:
    """One page: its resources, the total matched (None when only a full read could tell, RFC
    9865 §2) and the cursor of the next page."""

    resources: list[Found]
    total: int | None
    next_cursor: str | None = None


def member_ids(node: FilterNode) -> set[str]:
    """The user ids a filter compares a group's members with: `members eq "<id>"`,
    `members.value eq "<id>"` or `members[value eq "<id>"]` (Entra asks `id eq "<group>" and
    members eq "<user>"` before it removes a member)."""
    if isinstance(node, LogicalExpr):
        return set().union(*(member_ids(term) for term in node.terms))
    if isinstance(node, Not):
        return member_ids(node.expr)
    if isinstance(node, ValuePath) and _is_members(node.attr_path.attr, node.attr_path.uri):
        return member_ids(node.val_filter)
    if isinstance(node, Comparison) and isinstance(node.value, str):
        path = node.attr_path
        if _is_members(path.attr, path.uri) and path.sub_attr in (None, "value"):
            return {node.value}
        if path.attr.casefold() == "value" and path.sub_attr is None and path.uri is None:
            return {node.value}  # inside members[...]
    return set()


def _is_members(attribute: str, uri: str | None) -> bool:
    return attribute.casefold() == "members" and (uri is None or uri.casefold() == _GROUP_URN)


def index_plan(node: FilterNode, kind: ResourceKind) -> set[IndexLookup] | None:
    """The index reads that find every resource of `kind` the filter can match, or None when no
    index answers it. An empty set means it matches none (an attribute the type does not
    declare has no value, RFC 7644 §3.4.2.1)."""
    if isinstance(node, ValuePath):
        declared = _declares(kind, node.attr_path)
        if declared is not True:
            return None if declared is None else set()
        inner = node.val_filter
        if not _is_members(node.attr_path.attr, node.attr_path.uri):
            return _value_path_plan(node, kind)
        if isinstance(inner, Comparison) and inner.op == CompareOperator.eq and inner.value:
            return {IndexLookup(kind.name, value, MEMBER_OF) for value in member_ids(inner)} or None
        return None
    if isinstance(node, Comparison):
        return _comparison_plan(node, kind)
    if isinstance(node, LogicalExpr):
        plans = [index_plan(term, kind) for term in node.terms]
        if node.op == LogicalOperator.or_:
            if any(plan is None for plan in plans):
                return None
            return set().union(*(plan for plan in plans if plan is not None))
        answered = [plan for plan in plans if plan is not None]
        # The cheapest term: a member's groups may be many, so id and unique values come first.
        return min(answered, key=lambda plan: (_reads_memberships(plan), len(plan)), default=None)
    return None


def _reads_memberships(plan: set[IndexLookup]) -> bool:
    return any(lookup.position == MEMBER_OF for lookup in plan)


def _declares(kind: ResourceKind, path: AttrPath) -> bool | None:
    """Whether the type declares the attribute (None: a path scim2-models filters with but
    cannot address, so no index serves it)."""
    try:
        return Path[kind.model](str(path)).resolve() is not None  # type: ignore[name-defined]
    except ValueError:
        return None


def _comparison_plan(node: Comparison, kind: ResourceKind) -> set[IndexLookup] | None:
    path = node.attr_path
    declared = _declares(kind, path)
    if declared is not True:
        return None if declared is None else set()
    core = path.uri is None or path.uri.casefold() == str(kind.model.__schema__).casefold()
    # An empty string is no index key (DynamoDB refuses it; nothing is indexed under it), yet a
    # resource may hold "": such a filter pages.
    if node.op != CompareOperator.eq or not isinstance(node.value, str) or not core:
        return None
    if not node.value:
        return None
    name = path.attr.casefold()
    if kind is GROUP and name == "members" and path.sub_attr in (None, "value"):
        return {IndexLookup(kind.name, node.value, MEMBER_OF)}
    for position, indexed in enumerate(kind.indexed, start=len(kind.unique)):
        # `emails eq "x"` compares the entries' `value` (RFC 7644 §3.4.2.2), as does scim2-models.
        sub = (path.sub_attr or indexed.sub_attribute).casefold()
        if indexed.attribute.casefold() == name and indexed.sub_attribute.casefold() == sub:
            return {IndexLookup(kind.name, indexed.key(node.value), position)}
    if path.sub_attr is not None:
        return None
    if name == "id":
        return {IndexLookup(kind.name, node.value, None)}
    for position, unique in enumerate(kind.unique):
        if unique.name.casefold() == name:
            return {IndexLookup(kind.name, unique.key(node.value), position)}
    return None


def _value_path_plan(node: ValuePath, kind: ResourceKind) -> set[IndexLookup] | None:
    """`emails[value eq "x"]`, and an inner `and` / `or` of such terms with any other (`type eq
    "work" and value eq "x"`): the entries' indexed sub-attribute read through its index."""
    path = node.attr_path
    if path.sub_attr is not None or not _is_core(path, kind):
        return None
    for position, indexed in enumerate(kind.indexed, start=len(kind.unique)):
        if indexed.attribute.casefold() == path.attr.casefold():
            return _inner_plan(node.val_filter, kind, indexed.sub_attribute, position)
    return None


def _inner_plan(
    node: FilterNode, kind: ResourceKind, sub_attribute: str, position: int
) -> set[IndexLookup] | None:
    if isinstance(node, LogicalExpr):
        plans = [_inner_plan(term, kind, sub_attribute, position) for term in node.terms]
        if node.op == LogicalOperator.or_:
            if any(plan is None for plan in plans):
                return None
            return set().union(*(plan for plan in plans if plan is not None))
        return min((plan for plan in plans if plan is not None), key=len, default=None)
    if not isinstance(node, Comparison) or node.op != CompareOperator.eq:
        return None
    path = node.attr_path
    if path.uri is not None or path.sub_attr is not None:
        return None
    if path.attr.casefold() != sub_attribute.casefold():
        return None
    if not isinstance(node.value, str) or not node.value:
        return None
    indexed = kind.indexed[position - len(kind.unique)]
    return {IndexLookup(kind.name, indexed.key(node.value), position)}


def _is_core(path: AttrPath, kind: ResourceKind) -> bool:
    return path.uri is None or path.uri.casefold() == str(kind.model.__schema__).casefold()


class ResourceSearch:
    """Answers list and search requests over the resource types of one endpoint (one type, or
    all of them at the root), per organization."""

    def __init__(
        self,
        store: ResourceStore,
        memberships: MembershipStore,
        kinds: Sequence[ResourceKind],
        scan_limit: int = FILTER_SCAN_LIMIT,
        use_indexes: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._memberships = memberships
        self.kinds = tuple(kinds)
        self._scan_limit = scan_limit
        self._use_indexes = use_indexes
        self._clock = clock

    @property
    def models(self) -> tuple[type[Resource[Any]], ...]:
        return tuple(kind.model for kind in self.kinds)

    def query(self, org_id: str, query: ListQuery, cursors: CursorCodec) -> ListResult:
        after: OrderKey | None = None
        if query.cursor:
            after = cursors.read(query.cursor, self._fingerprint(query), query.count)
        sort = query.sort.key if query.sort else None
        page = _Page(query, self._fingerprint(query), sort, after, cursors, self.kinds)
        matcher = _Matcher(org_id, query.filter, self._memberships)
        plans = self._plans(query.filter)
        indexed = self._read(org_id, plans, matcher)
        unplanned = [kind for kind in self.kinds if plans[kind.name] is None]
        if not unplanned:
            return page.of(matcher.matching(indexed))
        sizes = [self._store.count(org_id, kind.name) for kind in unplanned]
        if query.filter is None and sort is None:
            return self._listing(org_id, query, sizes, after, page)
        if sum(sizes) <= self._scan_limit:
            read = chain(indexed, self._everything(org_id, kinds=unplanned))
            return page.of(matcher.matching(read))
        if query.by_cursor and sort is None and query.count > 0:
            return self._scan(org_id, query, after, page, matcher)
        raise TooManyException(
            detail=(
                f"answering this needs more than {self._scan_limit} resources read: filter on "
                "id, userName, externalId or displayName with eq, or page with a cursor "
                "(without sortBy)"
            )
        )

    def cursor_after(self, query: ListQuery, found: Found, cursors: CursorCodec) -> str:
        """A cursor resuming after `found` (a page cut short after its query ran)."""
        sort = query.sort.key if query.sort else None
        return _Page(query, self._fingerprint(query), sort, None, cursors, self.kinds).cursor_at(
            found
        )

    def _fingerprint(self, query: ListQuery) -> str:
        """The query and the endpoint's types: a cursor of /Users means nothing to /Groups."""
        return f"{query.fingerprint()}|{','.join(kind.name for kind in self.kinds)}"

    # --- reads -------------------------------------------------------------------------------

    def _plans(self, scim_filter: ScimFilter[Any] | None) -> dict[str, set[IndexLookup] | None]:
        """Each type's index reads, or None for a type that must be paged through."""
        plans: dict[str, set[IndexLookup] | None] = {}
        for kind in self.kinds:
            plan = None
            if scim_filter is not None and self._use_indexes:
                plan = index_plan(scim_filter.ast, kind)
            plans[kind.name] = plan if plan is None or len(plan) <= MAX_INDEX_LOOKUPS else None
        return plans

    def _read(
        self, org_id: str, plans: dict[str, set[IndexLookup] | None], matcher: _Matcher
    ) -> Iterator[Found]:
        for kind in self.kinds:
            lookups = sorted(plans[kind.name] or (), key=repr)
            ids = [lookup.value for lookup in lookups if lookup.position is None]
            ids += [
                group_id
                for lookup in lookups
                if lookup.position == MEMBER_OF
                for group_id in matcher.groups_of(lookup.value)
            ]
            unique = len(kind.unique)
            ids += [
                holder
                for lookup in lookups
                if lookup.position is not None and lookup.position >= unique
                for holder in self._store.ids_with_value(
                    org_id,
                    kind.name,
                    IndexedValue(kind.indexed[lookup.position - unique].name, lookup.value),
                )
            ]
            if ids:
                for stored in self._store.get_many(org_id, kind.name, ids).values():
                    yield Found(kind, stored)
            for lookup in lookups:
                if lookup.position is not None and 0 <= lookup.position < unique:
                    for stored in self._store.find_unique(
                        org_id, kind.name, lookup.position, lookup.value
                    ):
                        yield Found(kind, stored)

    def _everything(
        self,
        org_id: str,
        after: OrderKey | None = None,
        kinds: Sequence[ResourceKind] | None = None,
        page_size: int = 500,
    ) -> Iterator[Found]:
        """The resources of every kind (or of `kinds`) in (kind, id) order, after a position."""
        for index, kind in enumerate(self.kinds):
            if (after is not None and index < after[0]) or (
                kinds is not None and kind not in kinds
            ):
                continue
            start = after[1] if after is not None and index == after[0] else None
            size = min(page_size, self._scan_limit + 1)
            for stored in self._store.iterate(org_id, kind.name, size, start):
                yield Found(kind, stored)

    def _listing(
        self,
        org_id: str,
        query: ListQuery,
        sizes: list[int],
        after: OrderKey | None,
        page: _Page,
    ) -> ListResult:
        """Everything, in id order: the counters give the total, DynamoDB's paging the page.

        An index page up to `scan_limit` resources in walks the keys before it (DynamoDB reads
        them, the function gets keys only). Further in, it starts where the page that ended
        there left a note (Okta imports page in order), and without one it is refused with
        `tooMany`: its cost stays bounded whatever the offset. Resources created or deleted
        between two pages may then shift a page by as many, which RFC 7644 §3.4.2.4 allows
        (index paging promises no repeatable results); cursors do not shift."""
        total = sum(sizes)
        if query.count == 0:
            return ListResult([], total)
        if query.by_cursor:
            everything = self._everything(org_id, after, page_size=query.count + 1)
            chosen = list(islice(everything, query.count + 1))
            return page.cut(chosen, total)
        skip = query.start_index - 1
        if skip >= total:
            return ListResult([], total)
        if skip > self._scan_limit:
            found = self._continued(org_id, skip, query.count)
        else:
            found = self._walked(org_id, skip, query.count, sizes)
        offset = skip + len(found)
        if found and self._scan_limit < offset < total:
            last = found[-1]
            position = json.dumps([self.kinds.index(last.kind), last.stored.id])
            expires = int(self._clock()) + CURSOR_TIMEOUT_SECONDS
            self._store.save_position(org_id, self._scope, offset, position, expires)
        return ListResult(found, total)

    @property
    def _scope(self) -> str:
        return ",".join(kind.name for kind in self.kinds)

    def _continued(self, org_id: str, skip: int, count: int) -> list[Found]:
        """The page `skip` resources in, from where the page that ended there left off."""
        noted = self._store.saved_position(org_id, self._scope, skip, int(self._clock()))
        if noted is None:
            raise TooManyException(
                detail=(
                    f"startIndex past {self._scan_limit + 1} is served only right after the "
                    "page that ends before it (page in order from startIndex=1), or page "
                    "with a cursor (cursor=) to go anywhere at the same cost"
                )
            )
        after: OrderKey = json.loads(noted)
        return list(islice(self._everything(org_id, after, page_size=count + 1), count))

    def _walked(self, org_id: str, skip: int, count: int, sizes: list[int]) -> list[Found]:
        """The page `skip` resources in, found by walking the keys before it."""
        found: list[Found] = []
        for index, kind in enumerate(self.kinds):
            if len(found) == count:
                break
            if skip >= sizes[index]:
                skip -= sizes[index]
                continue
            wanted = count - len(found)
            # The skipped resources are walked by key only: DynamoDB still reads them, but the
            # function receives keys, not bodies.
            start = self._store.id_after(org_id, kind.name, skip) if skip else None
            stored = islice(self._store.iterate(org_id, kind.name, min(wanted, 500), start), wanted)
            found += [Found(kind, resource) for resource in stored]
            skip = 0
        return found

    def _scan(
        self,
        org_id: str,
        query: ListQuery,
        after: OrderKey | None,
        page: _Page,
        matcher: _Matcher,
    ) -> ListResult:
        """A cursor page of a filter no index answers, over more resources than one request may
        read: at most `scan_limit` are read, and the next cursor resumes after the last one."""
        matched: list[Found] = []
        last: Found | None = None
        for read, found in enumerate(self._everything(org_id, after), start=1):
            last = found
            if matcher.matches(found):
                matched.append(found)
                if len(matched) > query.count:
                    return page.cut(matched, None)
            if read >= self._scan_limit:
                result = page.cut(matched, None)
                if result.next_cursor is None:
                    return ListResult(result.resources, None, page.cursor_at(last))
                return result
        return page.cut(matched, None)


class _Matcher:
    """Evaluates a query's filter on stored resources. A group's members are not in its item:
    for the member ids the filter names, the user's memberships (one index read per id, made
    once per request) tell which groups hold them."""

    def __init__(
        self, org_id: str, scim_filter: ScimFilter[Any] | None, memberships: MembershipStore
    ) -> None:
        self._org_id = org_id
        self._filter = scim_filter
        self._memberships = memberships
        self._members = member_ids(scim_filter.ast) if scim_filter is not None else set()
        self._groups_of: dict[str, set[str]] = {}

    def groups_of(self, user_id: str) -> set[str]:
        if not fits_key(user_id):  # no user has such an id (nor could a key hold it)
            return set()
        if user_id not in self._groups_of:
            self._groups_of[user_id] = set(self._memberships.groups_of(self._org_id, user_id))
        return self._groups_of[user_id]

    def matches(self, found: Found) -> bool:
        if self._filter is None:
            return True
        if found.kind is not GROUP or not self._members:
            return self._filter.match(found.model)
        held = [u for u in sorted(self._members) if found.stored.id in self.groups_of(u)]
        body = {**found.stored.body, "members": [{"value": user_id} for user_id in held]}
        return self._filter.match(resource_model(found.kind, replace(found.stored, body=body)))

    def matching(self, candidates: Iterator[Found]) -> list[Found]:
        unique = {(found.kind.name, found.stored.id): found for found in candidates}
        return [found for found in unique.values() if self.matches(found)]


class _Page:
    """Orders matched resources and cuts the page a query asks for: by offset (`startIndex`) or
    after the cursor's position."""

    def __init__(
        self,
        query: ListQuery,
        fingerprint: str,
        sort: SortKey | None,
        after: OrderKey | None,
        cursors: CursorCodec,
        kinds: Sequence[ResourceKind],
    ) -> None:
        self._query = query
        self._fingerprint = fingerprint
        self._sort = sort
        self._after = after
        self._cursors = cursors
        self._kind_index = {kind.name: index for index, kind in enumerate(kinds)}

    def key(self, found: Found) -> OrderKey:
        position: OrderKey = [self._kind_index[found.kind.name], found.stored.id]
        if self._sort is None:
            return position
        value = self._sort.value(found.model)
        return [*value, *position]

    def of(self, matched: list[Found]) -> ListResult:
        """The page of a fully known result: the total is exact."""
        descending = self._query.sort is not None and self._query.sort.descending
        # Each key once: a sort value costs a model validation.
        keyed = sorted(((self.key(f), f) for f in matched), key=lambda pair: pair[0])
        if descending:
            keyed.reverse()
        total = len(keyed)
        if self._query.count == 0:
            return ListResult([], total)
        if not self._query.by_cursor:
            skip = self._query.start_index - 1
            return ListResult([f for _, f in keyed[skip : skip + self._query.count]], total)
        after = self._after
        if after is not None:
            keyed = [(k, f) for k, f in keyed if (k < after if descending else k > after)]
        return self.cut([f for _, f in keyed[: self._query.count + 1]], total)

    def cut(self, chosen: list[Found], total: int | None) -> ListResult:
        """The first `count` of `chosen` (ordered, one more than a page when there is more)."""
        page = chosen[: self._query.count]
        more = len(chosen) > self._query.count
        return ListResult(page, total, self.cursor_at(page[-1]) if more and page else None)

    def cursor_at(self, found: Found) -> str:
        return self._cursors.issue(self.key(found), self._fingerprint, self._query.count)

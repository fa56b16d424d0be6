"""List and search requests (RFC 7644 §3.4.2, §3.4.3): which resources a query selects, in which
order, and which page of them a request gets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

from provisioning.scim.query import IndexLookup, ListQuery, index_lookup
from provisioning.scim.resources import ResourceKind
from provisioning.scim.service import resource_model
from provisioning.store.resources import ResourceStore, StoredResource


@dataclass(frozen=True)
class ListResult:
    """One page of a list request: the total that matched and the page's resources."""

    total: int
    resources: list[StoredResource]


class ResourceSearch:
    """Answers list requests on one resource type of an organization."""

    def __init__(self, store: ResourceStore, kind: ResourceKind) -> None:
        self._store = store
        self.kind = kind

    def query(self, org_id: str, query: ListQuery) -> ListResult:
        """A key lookup when an index answers the filter, otherwise the organization's resources
        in id order (stable across pages, as Okta's paging needs)."""
        skip = query.start_index - 1
        if query.filter is None:
            total = self._store.count(org_id, self.kind.name)
            if query.count == 0 or skip >= total:
                return ListResult(total, [])
            chosen = islice(
                self._store.iterate(org_id, self.kind.name, skip + query.count), skip, None
            )
            return ListResult(total, list(islice(chosen, query.count)))
        lookup = index_lookup(query.filter.ast, self.kind)
        candidates = (
            self._lookup(org_id, lookup)
            if lookup is not None
            else self._store.iterate(org_id, self.kind.name)
        )
        matched = [r for r in candidates if query.filter.match(resource_model(self.kind, r))]
        return ListResult(len(matched), matched[skip : skip + query.count])

    def _lookup(self, org_id: str, lookup: IndexLookup) -> Iterator[StoredResource]:
        if lookup.position is None:
            found = self._store.get(org_id, self.kind.name, lookup.value)
            yield from [found] if found else []
        else:
            yield from self._store.find_unique(
                org_id, self.kind.name, lookup.position, lookup.value
            )

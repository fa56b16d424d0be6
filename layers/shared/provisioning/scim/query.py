"""Query parameters of a list or search request (RFC 7644 §3.4.2, §3.4.3; RFC 9865)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    InvalidSyntaxException,
    InvalidValueException,
    Resource,
    ResponseParameters,
    ScimFilter,
)

from provisioning.scim.errors import from_validation_error
from provisioning.scim.filters import parse_filter
from provisioning.scim.ordering import SortKey, sort_key
from provisioning.scim.resources import DEFAULT_PAGE_SIZE, MAX_RESULTS


@dataclass(frozen=True)
class Projection:
    """`attributes` / `excludedAttributes` of a request (RFC 7644 §3.9)."""

    attributes: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Projection:
        """Read and check the parameters before anything is written: a bad attribute name must
        fail the request, not its response after a committed write."""
        projection = cls(_names(params, "attributes"), _names(params, "excludedAttributes"))
        try:
            projection.parameters()
        except ValidationError as error:
            raise from_validation_error(error) from error
        return projection

    def parameters(self) -> ResponseParameters[Any] | None:
        if not self.attributes and not self.excluded:
            return None
        return ResponseParameters(
            attributes=list(self.attributes) or None,
            excluded_attributes=list(self.excluded) or None,
        )

    def excludes(self, attribute: str) -> bool:
        """Whether the response will leave out a core `attribute`, so the service can skip
        reading it (names may be qualified by their schema URN, RFC 7644 §3.10)."""
        wanted = attribute.casefold()
        if self.attributes:
            return not any(_core_name(name).split(".")[0] == wanted for name in self.attributes)
        return any(_core_name(name) == wanted for name in self.excluded)


@dataclass(frozen=True)
class SortOrder:
    """`sortBy` resolved against the endpoint's resource types, and `sortOrder` (RFC 7644
    §3.4.2.3: ascending unless told otherwise)."""

    attribute: str
    key: SortKey
    descending: bool = False


@dataclass(frozen=True)
class ListQuery:
    """A validated list or search request. `cursor` is None for index pagination (`startIndex`,
    RFC 7644 §3.4.2.4), and a string for cursor pagination (RFC 9865; empty for the first page)."""

    filter: ScimFilter[Any] | None = None
    sort: SortOrder | None = None
    start_index: int = 1
    count: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    projection: Projection = field(default_factory=Projection)

    @property
    def by_cursor(self) -> bool:
        return self.cursor is not None

    def fingerprint(self) -> str:
        """What must stay the same between the pages of one cursor-paginated query (RFC 9865 §2:
        a client repeats every parameter but `cursor`)."""
        sort = (self.sort.attribute.casefold(), self.sort.descending) if self.sort else None
        return json.dumps([str(self.filter or ""), sort])


def parse_list_query(params: Mapping[str, str], models: Sequence[type[Resource[Any]]]) -> ListQuery:
    """Read a list request's query string; bad values get the RFC's `scimType`."""
    if "cursor" in params and "startIndex" in params:
        # RFC 9865 §2.4 lets a client pick a method by sending one of them; both is ambiguous.
        raise InvalidValueException(detail="send either startIndex or cursor, not both")
    return ListQuery(
        filter=parse_filter(params.get("filter"), *models, strict=True),
        sort=_sort_order(params.get("sortBy"), params.get("sortOrder"), models),
        # RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0, and a
        # count above the maximum as the maximum (RFC 9865 §4: maxPageSize, whatever count says).
        start_index=max(1, _integer(params, "startIndex", 1)),
        count=min(max(0, _integer(params, "count", DEFAULT_PAGE_SIZE)), MAX_RESULTS),
        cursor=params.get("cursor"),
        projection=Projection.from_params(params),
    )


def parse_search_request(
    body: Mapping[str, Any], models: Sequence[type[Resource[Any]]]
) -> ListQuery:
    """A POST `/.search` body (RFC 7644 §3.4.3, with RFC 9865 §3's `cursor`): the same query as
    the list parameters, read with their JSON types."""
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas:
        raise InvalidSyntaxException(detail=f"a search request names {SEARCH_REQUEST_SCHEMA}")
    params: dict[str, str] = {}
    for name, kind in _SEARCH_FIELDS.items():
        value = next((v for k, v in body.items() if k.casefold() == name.casefold()), None)
        if value is None:
            continue
        if kind is list:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InvalidValueException(detail=f"{name} is a list of attribute names")
            params[name] = ",".join(value)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidValueException(detail=f"{name} must be an integer")
            params[name] = str(value)
        else:
            if not isinstance(value, str):
                raise InvalidValueException(detail=f"{name} must be a string")
            params[name] = value
    return parse_list_query(params, models)


SEARCH_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
_SEARCH_FIELDS: dict[str, type] = {
    "attributes": list,
    "excludedAttributes": list,
    "filter": str,
    "sortBy": str,
    "sortOrder": str,
    "startIndex": int,
    "count": int,
    "cursor": str,
}


def _sort_order(
    sort_by: str | None, order: str | None, models: Sequence[type[Resource[Any]]]
) -> SortOrder | None:
    descending = False
    if order is not None and order.strip():
        if order.strip().casefold() not in ("ascending", "descending"):
            raise InvalidValueException(detail="sortOrder is ascending or descending")
        descending = order.strip().casefold() == "descending"
    if sort_by is None or not sort_by.strip():
        return None
    # Bound now: an attribute nothing can be sorted by is refused before any read.
    return SortOrder(sort_by.strip(), sort_key(sort_by.strip(), models), descending)


def _core_name(name: str) -> str:
    """An attribute name without a `urn:...:core:2.0:<Resource>:` prefix, case-folded."""
    lowered = name.casefold()
    if lowered.startswith("urn:ietf:params:scim:schemas:core:2.0:"):
        return lowered.rsplit(":", 1)[-1]
    return lowered


def _names(params: Mapping[str, str], key: str) -> tuple[str, ...]:
    raw = params.get(key) or ""
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _integer(params: Mapping[str, str], key: str, default: int) -> int:
    raw = params.get(key)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidValueException(detail=f"{key} must be an integer") from None

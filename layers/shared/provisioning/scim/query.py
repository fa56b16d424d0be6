"""Query parameters of a list request (RFC 7644 §3.4.2) and the filters an index answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    InvalidValueException,
    ResponseParameters,
    ScimFilter,
)
from scim2_models.path import AttrPath, CompareOperator, Comparison, FilterNode

from provisioning.scim.errors import from_validation_error
from provisioning.scim.filters import parse_filter
from provisioning.scim.resources import MAX_RESULTS, ResourceKind


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
class ListQuery:
    """A validated list request: filter, 1-based `startIndex`, `count` (None: the server's page)."""

    filter: ScimFilter[Any] | None = None
    start_index: int = 1
    count: int = MAX_RESULTS
    projection: Projection = field(default_factory=Projection)


def parse_list_query(params: Mapping[str, str], kind: ResourceKind) -> ListQuery:
    """Read a list request's query string; bad values get the RFC's `scimType`."""
    return ListQuery(
        filter=parse_filter(params.get("filter"), kind.model),
        # RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1, a negative count as 0, and a
        # count above the maximum as the maximum.
        start_index=max(1, _integer(params, "startIndex", 1)),
        count=min(max(0, _integer(params, "count", MAX_RESULTS)), MAX_RESULTS),
        projection=Projection.from_params(params),
    )


@dataclass(frozen=True)
class IndexLookup:
    """A filter an index answers: `attribute eq value` on `id` or a unique attribute."""

    attribute: str
    value: str
    position: int | None  # which unique attribute (its GSI); None for `id`


def index_lookup(node: FilterNode, kind: ResourceKind) -> IndexLookup | None:
    """The single-key lookup equivalent to the filter, if there is one."""
    if not isinstance(node, Comparison) or node.op != CompareOperator.eq:
        return None
    if not isinstance(node.value, str) or not _is_core(node.attr_path, kind):
        return None
    name = node.attr_path.attr.casefold()
    if name == "id":
        return IndexLookup("id", node.value, None)
    for position, unique in enumerate(kind.unique):
        if unique.name.casefold() == name:
            return IndexLookup(unique.name, unique.key(node.value), position)
    return None


def _is_core(path: AttrPath, kind: ResourceKind) -> bool:
    if path.sub_attr is not None:
        return False
    return path.uri is None or path.uri.casefold() == str(kind.model.__schema__).casefold()


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

"""The order of list results (RFC 7644 §3.4.2.3): the sort value of a resource, as a key that
compares the way the RFC says and survives a round trip through JSON (cursors carry it)."""

from __future__ import annotations

import base64
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from scim2_models import InvalidPathException, InvalidValueException, Path, Resource
from scim2_models.path import AttributeBinding

# A sort value: (missing, type rank, comparable value). Missing values sort after every present
# one, so ascending puts them last and descending (the reverse order) first, as §3.4.2.3 says.
SortValue = tuple[int, int, Any]
_MISSING: SortValue = (1, 0, None)


@dataclass(frozen=True)
class _Reader:
    """Where one model keeps the sort attribute."""

    head: Path[Any]  # the attribute itself, or the multi-valued attribute holding it
    sub_attribute: str | None  # the Python name to read from the chosen value
    multi_valued: bool
    binding: AttributeBinding  # compares strings as filters do (NFC; lower case unless caseExact)


@dataclass(frozen=True)
class SortKey:
    """`sortBy` bound to every resource type an endpoint serves; a type that does not declare
    the attribute has no value for it (RFC 7644 §3.4.2.1)."""

    attribute: str
    readers: dict[type[BaseModel], _Reader]

    def value(self, resource: Resource[Any]) -> SortValue:
        reader = self.readers.get(type(resource))
        if reader is None:
            return _MISSING
        found = reader.head.get(resource, strict=False)
        if reader.multi_valued:
            found = _chosen_value(found, reader.sub_attribute)
        return _comparable(found, reader.binding)


def sort_key(sort_by: str, models: Sequence[type[Resource[Any]]]) -> SortKey:
    """Bind `sortBy` to the models; 400 invalidValue when none declares it or it names a
    complex attribute without the sub-attribute to sort by."""
    readers: dict[type[BaseModel], _Reader] = {}
    for model in models:
        try:
            binding = Path[model](sort_by).resolve()  # type: ignore[valid-type]
        except (InvalidPathException, ValueError):
            raise InvalidValueException(
                detail=f"sortBy {sort_by!r} is not an attribute path"
            ) from None
        if binding is not None:
            readers[model] = _reader(model, sort_by, binding)
    if not readers:
        raise InvalidValueException(detail=f"sortBy names no attribute of this endpoint: {sort_by}")
    return SortKey(sort_by, readers)


def _reader(model: type[Resource[Any]], sort_by: str, binding: AttributeBinding) -> _Reader:
    if not binding.is_multivalued:
        if _is_complex(binding.target_type):
            raise InvalidValueException(detail=f"sort by a sub-attribute of {sort_by}")
        return _Reader(Path[model](sort_by), None, False, binding)  # type: ignore[valid-type]
    # A multi-valued attribute sorts by its primary value, else its first (§3.4.2.3).
    head = sort_by.rsplit(".", 1)[0] if binding.sub_field_name else sort_by
    sub = binding.sub_field_name
    if sub is None and _is_complex(binding.field_type):
        sub = "value"
    return _Reader(Path[model](head), sub, True, binding)  # type: ignore[valid-type]


def _is_complex(kind: type | None) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _chosen_value(values: Any, sub_attribute: str | None) -> Any:
    if not isinstance(values, list) or not values:
        return None
    chosen = next((v for v in values if getattr(v, "primary", None) is True), values[0])
    return getattr(chosen, sub_attribute, None) if sub_attribute else chosen


def _comparable(value: Any, binding: AttributeBinding) -> SortValue:
    """Strings compare case-insensitively unless caseExact; dates as instants; numbers as such."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or value == "":
        return _MISSING
    if isinstance(value, bool):
        return (0, 0, value)
    if isinstance(value, int | float):
        return (0, 1, value)
    if isinstance(value, datetime):
        instant = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (0, 2, instant.timestamp())
    if isinstance(value, bytes):
        return (0, 3, base64.b64encode(value).decode())
    return (0, 3, binding.comparable(str(value)))

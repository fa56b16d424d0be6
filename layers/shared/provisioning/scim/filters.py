"""SCIM filters (RFC 7644 §3.4.2.2), parsed and checked against the resource types an endpoint
serves.

scim2-models owns the grammar (with the RFC errata applied), the case rules of each attribute
(`caseExact`, RFC 7643 §2.2) and the evaluation. On top of it this module decides:

- what a filter may name: with `strict`, an attribute that no resource type of the endpoint
  declares is a client error (`invalidFilter`, RFC 7644 §3.12 Table 9); one that only some of the
  types declare evaluates to false on the others (RFC 7644 §3.4.2.1);
- that a value has the type of the attribute it is compared with (RFC 7644 §3.4.2.2 compares by
  attribute type; RFC 7643 §2.3 gives the types), so `active eq "true"` is refused rather than
  quietly read as a boolean, and that `null` only means "unassigned" (RFC 7643 §2.5);
- which attributes cannot be filtered here because the stored resource does not carry them, and
  how a group's members (stored apart) may be tested: only for equality with member ids.
"""

from __future__ import annotations

import operator
import re
from datetime import datetime
from decimal import Decimal
from functools import reduce
from inspect import isclass
from typing import Any

from pydantic import BaseModel
from scim2_models import InvalidFilterException, Resource, ScimFilter
from scim2_models.path import (
    STRING_OPERATORS,
    AttributeBinding,
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    Not,
    Present,
    ValuePath,
)

MAX_FILTER_LENGTH = 4096

_CORE = "urn:ietf:params:scim:schemas:core:2.0"

# Attributes a stored resource does not carry, so that no filter can be evaluated on them: it
# would silently match nothing (or, under `not`, everything). RFC 7644 §3.12 Table 9 has
# `invalidFilter` for "the specified attribute and filter comparison combination is not supported".
_NOT_FILTERABLE: dict[str, str] = {
    f"{_CORE}:User:groups": "a user's groups are read from the group memberships",
    f"{_CORE}:User:password": "passwords are never stored",
    f"{_CORE}:User:meta.location": "meta.location is built for each response",
    f"{_CORE}:Group:meta.location": "meta.location is built for each response",
}

# A group's members are stored apart from the group: scim/search.py reads the memberships of the
# user ids a filter names and evaluates the filter on those, which is exact only when members are
# tested for equality with ids (`members eq "<id>"`, `members.value ne "<id>"`,
# `members[value eq "<id>" or value eq "<id>"]`, under any `and`/`or`/`not`). Anything else on
# members (`pr`, `co`, `null`, `display`, a `not` inside the brackets) is refused.
_MEMBERS = f"{_CORE}:Group:members"

# RFC 7643 §2.3.5: a dateTime is an xsd:dateTime. The offset is required here: without one the
# value names no instant (XML Schema leaves it "local"), and comparisons are between instants.
_DATE_TIME = re.compile(
    r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})", re.IGNORECASE
)

_EQUALITY = frozenset({CompareOperator.eq, CompareOperator.ne})


def parse_filter(
    text: str | None, *models: type[Resource[Any]], strict: bool = False
) -> ScimFilter[Any] | None:
    """The filter `text` bound to the resource types an endpoint serves (several for the root's
    `/.search`, RFC 7644 §3.4.3), or None when there is no filter.

    Endpoints pass `strict=True`: then an attribute that none of `models` declares is refused.
    Without it such an attribute evaluates to false, which is what a value filter read apart from
    its attribute needs (`value eq "..."` in `members[...]`). Every failure is an
    InvalidFilterException (400 `invalidFilter`).
    """
    if not models:
        raise TypeError("parse_filter needs the resource types the filter applies to")
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail=f"filters are limited to {MAX_FILTER_LENGTH} chars")
    bound: Any = ScimFilter[reduce(operator.or_, models)]  # type: ignore[misc]
    try:
        parsed: ScimFilter[Any] = bound(text)
        _Checker(models, strict=strict).visit(parsed.ast)
    except InvalidFilterException as error:
        error.filter = text
        raise
    except ValueError as error:
        raise InvalidFilterException(filter=text, detail=str(error)) from error
    return parsed


class _Checker(FilterVisitor[None]):
    """Walks a filter already accepted by scim2-models and applies this service's rules."""

    def __init__(
        self, models: tuple[type[BaseModel], ...], *, strict: bool, within: str = ""
    ) -> None:
        self._models = models
        self._strict = strict
        self._within = within  # the attribute whose values a value filter selects

    def visit_comparison(self, node: Comparison) -> None:
        for binding in self._bind(node, comparison=True):
            _check_value(binding, node)

    def visit_present(self, node: Present) -> None:
        self._bind(node)

    def visit_not(self, node: Not) -> None:
        self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> None:
        for term in node.terms:
            self.visit(term)

    def visit_value_path(self, node: ValuePath) -> None:
        # RFC 7644 §3.4.2.2: the filter in brackets names sub-attributes of the attribute.
        for binding in self._bind(node):
            entry = binding.field_type
            if isclass(entry) and issubclass(entry, BaseModel):
                _Checker((entry,), strict=self._strict, within=binding.urn).visit(node.val_filter)

    def _bind(
        self, node: Comparison | Present | ValuePath, *, comparison: bool = False
    ) -> list[AttributeBinding]:
        """The attribute `node` names, in each resource type that declares it."""
        path: AttrPath = node.attr_path
        found: list[AttributeBinding] = []
        for model in self._models:
            alone: Any = ScimFilter[model]  # type: ignore[valid-type]
            probe: ScimFilter[Any] = alone(node)
            binding = (
                probe.resolve_comparison(path, strict=False)
                if comparison
                else probe.resolve(path, strict=False)
            )
            if binding is not None:
                found.append(binding)
        if not found and self._strict:
            where = (
                f"a sub-attribute of '{self._within}'"
                if self._within
                else "in " + ", ".join(_schema_name(model) for model in self._models)
            )
            raise InvalidFilterException(detail=f"unknown attribute '{path}': not {where}")
        for binding in found:
            _check_filterable(binding, node)
        return found


def _schema_name(model: type[BaseModel]) -> str:
    return str(getattr(model, "__schema__", None) or model.__name__)


def _check_filterable(binding: AttributeBinding, node: Comparison | Present | ValuePath) -> None:
    if _names(binding, _MEMBERS):
        if not _tests_member_ids(binding, node):
            raise InvalidFilterException(
                detail="a group's members are only compared with member ids: "
                'members eq "<id>", members ne "<id>" or members[value eq "<id>"]'
            )
        return
    for attribute, reason in _NOT_FILTERABLE.items():
        if _names(binding, attribute):
            raise InvalidFilterException(detail=f"cannot filter on '{binding.urn}': {reason}")


def _names(binding: AttributeBinding, attribute: str) -> bool:
    """Whether `binding` is `attribute` or one of its sub-attributes."""
    urn, key = binding.urn.casefold(), attribute.casefold()
    return urn == key or urn.startswith(f"{key}.")


def _tests_member_ids(binding: AttributeBinding, node: Comparison | Present | ValuePath) -> bool:
    if isinstance(node, Comparison):
        return (
            binding.urn.casefold() == f"{_MEMBERS}.value".casefold()
            and node.op in _EQUALITY
            and isinstance(node.value, str)
        )
    return isinstance(node, ValuePath) and _value_equalities(node.val_filter)


def _value_equalities(node: FilterNode) -> bool:
    """`value eq "<id>"`, or `and`/`or` of such comparisons."""
    if isinstance(node, LogicalExpr):
        return all(_value_equalities(term) for term in node.terms)
    return (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and isinstance(node.value, str)
        and node.attr_path.uri is None
        and node.attr_path.sub_attr is None
        and node.attr_path.attr.casefold() == "value"
    )


def _check_value(binding: AttributeBinding, node: Comparison) -> None:
    """RFC 7644 §3.4.2.2: a comparison is made by the attribute's type (RFC 7643 §2.3), so the
    value must be of that type; anything else is `invalidFilter`."""
    op, value, target = node.op, node.value, binding.target_type
    where = f"'{binding.urn}'"
    if value is None:
        # RFC 7643 §2.5: null is "unassigned"; only `eq null` / `ne null` ask anything of it.
        if op not in _EQUALITY:
            raise InvalidFilterException(detail=f"null compares only with eq or ne ({where})")
        return
    if isclass(target) and issubclass(target, BaseModel):
        # RFC 7644 §3.4.2.2: a complex attribute is compared through a sub-attribute.
        raise InvalidFilterException(
            detail=f"{where} is complex: compare one of its sub-attributes"
        )
    if target is bool:
        if not isinstance(value, bool):
            raise InvalidFilterException(detail=f"{where} is a boolean: compare it with true/false")
    elif isclass(target) and issubclass(target, int | float | Decimal):
        _refuse_string_operator(op, where, "a number")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFilterException(detail=f"{where} is a number: compare it with a number")
    elif isclass(target) and issubclass(target, datetime):
        _refuse_string_operator(op, where, "a dateTime")
        if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
            raise InvalidFilterException(
                detail=f"{where} is a dateTime: compare it with a quoted xsd:dateTime with its "
                'offset, e.g. "2021-01-01T00:00:00Z"'
            )
    elif not isinstance(value, str):
        raise InvalidFilterException(detail=f"{where} is a string: compare it with a quoted string")


def _refuse_string_operator(op: CompareOperator, where: str, kind: str) -> None:
    # RFC 7644 §3.4.2.2: co, sw and ew match substrings, which only strings have.
    if op in STRING_OPERATORS:
        raise InvalidFilterException(detail=f"{where} is {kind}: '{op.value}' needs a string")

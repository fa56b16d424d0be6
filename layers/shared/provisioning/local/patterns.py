"""Event patterns, the JSON filter language Lambda event filtering and EventBridge rules share.

A pattern mirrors the event's shape: an object names fields, an array lists what a field's value
may be (any one of them), and `$or` lists alternative sub-patterns. Lambda event filtering accepts
a documented subset of EventBridge's comparison operators; `LAMBDA_OPERATORS` is that subset, and a
pattern using anything else is refused when it is parsed, as CreateEventSourceMapping refuses it.

Matching follows EventBridge's rules: strings match character by character; numbers match by their
JSON text (300 and 300.0 differ) except under `numeric`, which compares values; a field whose
value is an array matches when any element does; `exists` looks only at leaf values, so testing an
intermediate node (`{"NewImage": {"kind": [{"exists": true}]}}` on DynamoDB JSON) never matches.
"""

from __future__ import annotations

import functools
import json
import math
import operator as compare
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Lambda's documented comparison operators (Lambda developer guide, "Control which events Lambda
# sends to your function", filter rule syntax). EventBridge adds wildcard, cidr and the object
# forms of anything-but: a bus emulator implements those here and passes its own set.
LAMBDA_OPERATORS = frozenset(
    {"anything-but", "equals-ignore-case", "exists", "numeric", "prefix", "suffix"}
)
_IMPLEMENTED = LAMBDA_OPERATORS
_OR = "$or"
_LOWER_BOUNDS: dict[str, Callable[[float, float], bool]] = {">": compare.gt, ">=": compare.ge}
_UPPER_BOUNDS: dict[str, Callable[[float, float], bool]] = {"<": compare.lt, "<=": compare.le}
_COMPARISONS = {"=": compare.eq, **_LOWER_BOUNDS, **_UPPER_BOUNDS}
_MISSING = object()


class PatternError(ValueError):
    """A pattern the service would refuse (invalid JSON, an unknown or malformed operator)."""


def _is_number(value: Any) -> bool:
    # bool is an int subclass in Python; JSON true is not a number.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: float) -> str:
    return json.dumps(value)


def _same_value(expected: Any, actual: Any) -> bool:
    """Exact matching: same JSON type and same text."""
    if expected is None or isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    return _is_number(actual) and _number_text(actual) == _number_text(expected)


Test = Callable[[Any], bool]


@dataclass(frozen=True)
class _Rule:
    """One element of a field's array: a value test, or `exists` (which sees all leaves)."""

    test: Test | None = None
    exists: bool | None = None

    def matches(self, leaves: Sequence[Any]) -> bool:
        if self.exists is not None:
            return bool(leaves) is self.exists
        assert self.test is not None
        return any(self.test(leaf) for leaf in leaves)


@dataclass(frozen=True)
class _Object:
    """An object pattern: every named field must match, and one alternative of each `$or`."""

    fields: tuple[tuple[str, _Object | tuple[_Rule, ...]], ...]
    alternatives: tuple[tuple[_Object, ...], ...]

    def matches(self, node: Any) -> bool:
        members = node if isinstance(node, Mapping) else {}
        for name, sub in self.fields:
            values = _flatten(members.get(name, _MISSING))
            if isinstance(sub, _Object):
                objects = [value for value in values if isinstance(value, Mapping)]
                # A missing or scalar field has no children: only `exists: false` can hold there.
                if not any(sub.matches(obj) for obj in objects or [{}]):
                    return False
            else:
                leaves = [value for value in values if not isinstance(value, Mapping)]
                if not any(rule.matches(leaves) for rule in sub):
                    return False
        return all(any(alt.matches(node) for alt in group) for group in self.alternatives)


def _flatten(value: Any) -> list[Any]:
    """A field's values, with arrays (and arrays of arrays) unrolled; none if it is missing."""
    if value is _MISSING:
        return []
    if isinstance(value, list):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


class EventPattern:
    """A parsed pattern; `matches(event)` tells whether the event passes it."""

    def __init__(self, source: Mapping[str, Any], root: _Object) -> None:
        self.source = source
        self._root = root

    @classmethod
    def parse(
        cls, pattern: str | Mapping[str, Any], operators: frozenset[str] = LAMBDA_OPERATORS
    ) -> EventPattern:
        """Parse a pattern (its JSON text or the decoded object); `PatternError` if invalid."""
        if isinstance(pattern, str):
            try:
                decoded = json.loads(pattern)
            except ValueError as exc:
                raise PatternError(f"pattern is not valid JSON: {exc}") from exc
        else:
            decoded = pattern
        if not isinstance(decoded, Mapping):
            raise PatternError("a pattern must be a JSON object")
        return cls(decoded, _Parser(operators).object(decoded, "pattern"))

    def matches(self, event: Any) -> bool:
        return self._root.matches(event)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.source, sort_keys=True)})"


def matches_any(patterns: Iterable[EventPattern], event: Any) -> bool:
    """Lambda's FilterCriteria: filters are ORed; no filter at all lets every event through."""
    found = False
    for pattern in patterns:
        if pattern.matches(event):
            return True
        found = True
    return not found


class _Parser:
    def __init__(self, operators: frozenset[str]) -> None:
        if operators - _IMPLEMENTED:
            raise ValueError(f"operators not implemented: {sorted(operators - _IMPLEMENTED)}")
        self._operators = operators

    def object(self, pattern: Mapping[str, Any], where: str) -> _Object:
        fields: list[tuple[str, _Object | tuple[_Rule, ...]]] = []
        alternatives: list[tuple[_Object, ...]] = []
        for name, value in pattern.items():
            path = f"{where}.{name}"
            if name == _OR:
                if not isinstance(value, list) or len(value) < 2:
                    raise PatternError(f"{path} must be an array of at least two patterns")
                if not all(isinstance(item, Mapping) for item in value):
                    raise PatternError(f"{path} must hold objects")
                alternatives.append(tuple(self.object(item, path) for item in value))
            elif isinstance(value, Mapping):
                fields.append((name, self.object(value, path)))
            elif isinstance(value, list):
                fields.append((name, tuple(self.rule(item, path) for item in value)))
            else:
                raise PatternError(f"{path} must be an array of values or an object")
        return _Object(tuple(fields), tuple(alternatives))

    def rule(self, item: Any, where: str) -> _Rule:
        if item is None or isinstance(item, str | bool) or _is_number(item):
            return _Rule(test=functools.partial(_same_value, item))
        if not isinstance(item, Mapping) or len(item) != 1:
            raise PatternError(f"{where}: {json.dumps(item)} is not a value or one operator")
        ((operator, argument),) = item.items()
        if operator not in self._operators:
            raise PatternError(f"{where}: operator {operator!r} is not supported here")
        if operator == "exists":
            if not isinstance(argument, bool):
                raise PatternError(f"{where}: exists takes true or false")
            return _Rule(exists=argument)
        return _Rule(test=self._test(operator, argument, where))

    def _test(self, operator: str, argument: Any, where: str) -> Test:
        if operator in ("prefix", "suffix", "equals-ignore-case"):
            if not isinstance(argument, str):
                raise PatternError(f"{where}: {operator} takes a string")
            if operator == "prefix":
                return lambda leaf: isinstance(leaf, str) and leaf.startswith(argument)
            if operator == "suffix":
                return lambda leaf: isinstance(leaf, str) and leaf.endswith(argument)
            folded = argument.casefold()
            return lambda leaf: isinstance(leaf, str) and leaf.casefold() == folded
        if operator == "anything-but":
            return self._anything_but(argument, where)
        return self._numeric(argument, where)

    @staticmethod
    def _anything_but(argument: Any, where: str) -> Test:
        excluded = argument if isinstance(argument, list) else [argument]
        if not excluded or not all(isinstance(v, str) or _is_number(v) for v in excluded):
            # Lambda filtering documents only the value and list forms (no prefix/suffix objects).
            raise PatternError(f"{where}: anything-but takes a string, a number or a list of them")
        return lambda leaf: not any(_same_value(value, leaf) for value in excluded)

    @staticmethod
    def _numeric(argument: Any, where: str) -> Test:
        if not isinstance(argument, list) or len(argument) not in (2, 4):
            raise PatternError(f"{where}: numeric takes [op, n] or [op, n, op, n]")
        pairs = list(zip(argument[::2], argument[1::2], strict=True))
        for operator, bound in pairs:
            if not _is_number(bound) or not math.isfinite(bound):
                raise PatternError(f"{where}: numeric bound {bound!r} is not a number")
            if operator not in _COMPARISONS:
                raise PatternError(f"{where}: numeric operator {operator!r} is unknown")
        operators = [operator for operator, _ in pairs]
        if len(pairs) == 2 and not (
            sum(op in _LOWER_BOUNDS for op in operators) == 1
            and sum(op in _UPPER_BOUNDS for op in operators) == 1
        ):
            raise PatternError(f"{where}: a numeric range takes one lower and one upper bound")
        comparisons = [(_COMPARISONS[operator], float(bound)) for operator, bound in pairs]

        def test(leaf: Any) -> bool:
            # Only JSON numbers compare: DynamoDB's {"N": "5"} is a string and never matches.
            if not _is_number(leaf):
                return False
            value = float(leaf)
            return all(holds(value, bound) for holds, bound in comparisons)

        return test

"""Group member operations, read from a PATCH (RFC 7644 §3.5.2) or a POST/PUT body, as the net
change they make. Members are stored apart from the group, so they are never patched in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scim2_models import InvalidPathException, InvalidValueException
from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator

from provisioning.scim.filters import parse_filter
from provisioning.scim.resources import GROUP

MEMBERS = "members"
_QUALIFIED_MEMBERS = f"{GROUP.model.__schema__}:{MEMBERS}".casefold()


def _is_members(name: str) -> bool:
    """`members`, bare or qualified by the Group schema URN (RFC 7644 §3.10)."""
    return name.strip().casefold() in (MEMBERS, _QUALIFIED_MEMBERS)


def _unqualified(path: str) -> str:
    """The path without a leading Group schema URN, its case kept (ids are case-exact)."""
    stripped = path.strip()
    prefix = f"{GROUP.model.__schema__}:"
    return (
        stripped[len(prefix) :] if stripped.casefold().startswith(prefix.casefold()) else stripped
    )


@dataclass
class MemberEdit:
    """The net effect of member operations applied in order. With `replacement` set the result
    is `replacement - removed + added`; otherwise the current members `- removed + added`."""

    replacement: set[str] | None = None
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)

    def add(self, ids: set[str]) -> None:
        self.removed -= ids
        self.added |= ids

    def remove(self, ids: set[str]) -> None:
        self.added -= ids
        self.removed |= ids

    def replace(self, ids: set[str]) -> None:
        self.replacement = set(ids)
        self.added.clear()
        self.removed.clear()

    @property
    def is_empty(self) -> bool:
        return self.replacement is None and not self.added and not self.removed

    def against(self, current: set[str]) -> tuple[set[str], set[str]]:
        """(to add, to remove) relative to the current members."""
        base = current if self.replacement is None else self.replacement
        desired = (base - self.removed) | self.added
        return desired - current, current - desired


def member_ids(value: Any) -> set[str]:
    """The ids of a `members` value: `[{"value": id}, ...]` (a single object is tolerated)."""
    entries = value if isinstance(value, list) else [value]
    ids: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidValueException(detail='members are objects like {"value": "<id>"}')
        found = next((v for k, v in entry.items() if k.casefold() == "value"), None)
        if not isinstance(found, str) or not found:
            raise InvalidValueException(detail="each member needs a string value (its id)")
        ids.add(found)
    return ids


def split_members(payload: dict[str, Any]) -> tuple[dict[str, Any], set[str] | None]:
    """A POST/PUT body without `members`, and the member ids it names (None if absent)."""
    rest = {k: v for k, v in payload.items() if not _is_members(k)}
    named = [v for k, v in payload.items() if _is_members(k)]
    if not named or named[0] is None:
        return rest, None if not named else set()
    return rest, member_ids(named[0])


def split_patch(payload: dict[str, Any]) -> tuple[dict[str, Any], MemberEdit]:
    """A PatchOp body without its member operations, and their net effect."""
    edit = MemberEdit()
    kept: list[Any] = []
    operations_key = next((k for k in payload if k.casefold() == "operations"), "Operations")
    operations = payload.get(operations_key)
    if not isinstance(operations, list):
        return payload, edit
    for operation in operations:
        if not isinstance(operation, dict):
            kept.append(operation)
            continue
        remainder = _take_member_operation(operation, edit)
        if remainder is not None:
            kept.append(remainder)
    return {**payload, operations_key: kept}, edit


def _take_member_operation(operation: dict[str, Any], edit: MemberEdit) -> dict[str, Any] | None:
    """Apply the operation's member part to `edit`; return what is left of it (None: nothing)."""
    fields = {k.casefold(): v for k, v in operation.items()}
    op = str(fields.get("op", "")).casefold()
    path = fields.get("path")
    value = fields.get("value")
    if path is None:
        if not isinstance(value, dict):
            return operation
        members = [v for k, v in value.items() if _is_members(k)]
        if not members:
            return operation
        if op == "add":
            edit.add(member_ids(members[0]))
        elif op == "replace":
            edit.replace(member_ids(members[0]))
        else:
            return operation
        rest = {k: v for k, v in value.items() if not _is_members(k)}
        return {**operation, "value": rest} if rest else None
    if not isinstance(path, str):
        return operation
    unqualified = _unqualified(path)
    lowered = unqualified.casefold()
    if lowered == MEMBERS:
        if op == "add":
            edit.add(member_ids(value))
        elif op == "replace":
            edit.replace(member_ids(value) if value is not None else set())
        elif op == "remove":
            # Okta and Entra send the members to remove as a value (RFC 7644 §3.5.2.2 reads
            # only the path; without a value every member goes).
            if value is None:
                edit.replace(set())
            else:
                edit.remove(member_ids(value))
        return None
    if lowered.startswith(f"{MEMBERS}["):
        if op != "remove":
            raise InvalidPathException(detail="only remove may target members by filter")
        edit.remove(_filtered_ids(unqualified))
        return None
    return operation


def _filtered_ids(path: str) -> set[str]:
    """The ids a `members[value eq "<id>" or value eq "<id>"]` path selects."""
    inner = path.strip()[len(MEMBERS) + 1 :]
    if not inner.endswith("]"):
        raise InvalidPathException(detail=f"unsupported members path: {path}")
    parsed = parse_filter(inner[:-1], GROUP.model)
    if parsed is None:
        raise InvalidPathException(detail="empty members filter")
    return _value_equalities(parsed.ast, path)


def _value_equalities(node: FilterNode, path: str) -> set[str]:
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        return set().union(*(_value_equalities(term, path) for term in node.terms))
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr.casefold() == "value"
        and node.attr_path.sub_attr is None
        and isinstance(node.value, str)
    ):
        return {node.value}
    raise InvalidPathException(detail=f'members paths select by value eq "<id>": {path}')

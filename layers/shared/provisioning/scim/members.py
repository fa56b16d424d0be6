"""Group member operations, read from a PATCH (RFC 7644 §3.5.2) or a POST/PUT body, as the net
change they make. Members are stored apart from the group, so they are never patched in memory."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from scim2_models import InvalidPathException, InvalidValueException, MutabilityException
from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator

from provisioning.scim.filters import parse_filter
from provisioning.scim.resources import GROUP

MEMBERS = "members"
_QUALIFIED_MEMBERS = f"{GROUP.model.__schema__}:{MEMBERS}".casefold()
# RFC 7643 §8.7.1: a member's value, $ref and type are immutable. Its display is not kept (the
# §8.7.1 schema defines none), so writing it changes nothing.
_IMMUTABLE = frozenset({"value", "$ref", "type"})
_USER_TYPE = "user"


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
    is `replacement - removed + added`; otherwise the current members `- removed + added`.
    `not_users` holds the ids whose entry said it was not a user (a `type` or `$ref` naming
    another resource type): refused, as a new member or as a change of an existing one."""

    replacement: set[str] | None = None
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    not_users: set[str] = field(default_factory=set)

    def add(self, ids: set[str], not_users: AbstractSet[str] = frozenset()) -> None:
        self.removed -= ids
        self.added |= ids
        self.not_users |= not_users

    def remove(self, ids: set[str]) -> None:
        self.added -= ids
        self.removed |= ids

    def replace(self, ids: set[str], not_users: AbstractSet[str] = frozenset()) -> None:
        self.replacement = set(ids)
        self.added.clear()
        self.removed.clear()
        self.not_users |= not_users

    @property
    def is_empty(self) -> bool:
        return self.replacement is None and not self.added and not self.removed

    def against(self, current: set[str]) -> tuple[set[str], set[str]]:
        """(to add, to remove) relative to the current members."""
        base = current if self.replacement is None else self.replacement
        desired = (base - self.removed) | self.added
        return desired - current, current - desired

    def check_types(self, current: set[str]) -> None:
        """Refuse an entry naming a member as something other than a user: for a current member
        that changes its immutable `type` (400 mutability, RFC 7643 §8.7.1, RFC 7644 §3.5.2),
        for a new one it names what cannot be a member here (400 invalidValue)."""
        kept = (self.replacement if self.replacement is not None else set()) | self.added
        named = self.not_users & kept
        if named & current:
            shown = ", ".join(sorted(named & current)[:5])
            raise MutabilityException(
                detail=f"a member's type and $ref are immutable, and these are users: {shown}"
            )
        if named:
            shown = ", ".join(sorted(named)[:5])
            raise InvalidValueException(detail=f"members are users; not a user: {shown}")


def member_ids(value: Any) -> set[str]:
    """The ids of a `members` value: `[{"value": id}, ...]` (a single object is tolerated)."""
    return member_entries(value)[0]


def member_entries(value: Any) -> tuple[set[str], set[str]]:
    """The ids of a `members` value, and those whose entry names another resource type than
    User in its `type` or `$ref` (both optional; Entra and Okta send neither)."""
    entries = value if isinstance(value, list) else [value]
    ids: set[str] = set()
    not_users: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidValueException(detail='members are objects like {"value": "<id>"}')
        fields = {k.casefold(): v for k, v in entry.items()}
        found = fields.get("value")
        if not isinstance(found, str) or not found:
            raise InvalidValueException(detail="each member needs a string value (its id)")
        ids.add(found)
        if not _names_a_user(found, fields.get("type"), fields.get("$ref")):
            not_users.add(found)
    return ids, not_users


def _names_a_user(member_id: str, kind: Any, ref: Any) -> bool:
    """Whether a member entry's optional `type` and `$ref` agree it is the user `member_id`
    (`$ref` absolute or relative, ending in `Users/<id>`)."""
    if kind is not None and str(kind).casefold() != _USER_TYPE:
        return False
    return ref is None or str(ref).rstrip("/").split("/")[-2:] == ["Users", member_id]


def split_members(payload: dict[str, Any]) -> tuple[dict[str, Any], set[str] | None]:
    """A POST/PUT body without `members`, and the member ids it names (None if absent)."""
    rest, edit = split_member_list(payload)
    return rest, None if edit is None else edit.replacement


def split_member_list(payload: dict[str, Any]) -> tuple[dict[str, Any], MemberEdit | None]:
    """A POST/PUT body without `members`, and the member list it sets as an edit replacing the
    whole list (None if the body has no `members`)."""
    rest = {k: v for k, v in payload.items() if not _is_members(k)}
    named = [v for k, v in payload.items() if _is_members(k)]
    if not named:
        return rest, None
    edit = MemberEdit()
    edit.replace(*member_entries(named[0]) if named[0] is not None else (set(),))
    return rest, edit


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
            edit.add(*member_entries(members[0]))
        elif op == "replace":
            edit.replace(*member_entries(members[0]))
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
            edit.add(*member_entries(value))
        elif op == "replace":
            edit.replace(*member_entries(value) if value is not None else (set(),))
        elif op == "remove":
            # Okta and Entra send the members to remove as a value (RFC 7644 §3.5.2.2 reads
            # only the path; without a value every member goes).
            if value is None:
                edit.replace(set())
            else:
                edit.remove(member_ids(value))
        return None
    if lowered.startswith(f"{MEMBERS}[") or lowered.startswith(f"{MEMBERS}."):
        _take_member_entry_operation(op, unqualified, value, edit)
        return None
    return operation


def _take_member_entry_operation(op: str, path: str, value: Any, edit: MemberEdit) -> None:
    """An operation on the entries a filter selects (`members[...]`) or on a sub-attribute of
    members (`members[...].display`, `members.value`). Only a filtered remove of whole entries
    changes the members; writing an immutable sub-attribute is 400 mutability, and writing
    `display`, which is not kept, or an attribute the schema does not define, changes nothing."""
    selection, sub_attribute = _split_sub_attribute(path)
    if sub_attribute is None:
        if op == "remove":
            edit.remove(_filtered_ids(selection))
            return
        written = set(value) if isinstance(value, dict) else _IMMUTABLE
        sub_attributes = {str(name).casefold() for name in written}
    else:
        sub_attributes = {sub_attribute.casefold()}
    immutable = sub_attributes & _IMMUTABLE
    if immutable:
        raise MutabilityException(
            detail=f"members' {', '.join(sorted(immutable))} are immutable (RFC 7643 §8.7.1); "
            "add or remove members instead"
        )
    if "[" in selection:
        _filtered_ids(selection)  # still a well-formed selection


def _split_sub_attribute(path: str) -> tuple[str, str | None]:
    """`members[...]` or `members` and the sub-attribute after it, if any."""
    closing = path.rfind("]")
    head, tail = (path[: closing + 1], path[closing + 1 :]) if closing >= 0 else (MEMBERS, path)
    tail = tail[len(MEMBERS) :] if closing < 0 else tail
    if not tail:
        return head, None
    if not tail.startswith(".") or len(tail) < 2:
        raise InvalidPathException(detail=f"unsupported members path: {path}")
    return head, tail[1:]


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

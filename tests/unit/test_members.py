"""Member operations read as their net change (pure; no storage)."""

import pytest
from scim2_models import InvalidPathException, InvalidValueException, MutabilityException

from provisioning.scim.members import (
    MemberEdit,
    member_entries,
    member_ids,
    split_members,
    split_patch,
)

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def edit_of(*operations):
    rest, edit = split_patch({"schemas": [PATCH], "Operations": list(operations)})
    return rest["Operations"], edit


def test_entra_add_and_filtered_remove():
    rest, edit = edit_of(
        {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "Remove", "path": 'members[value eq "c"]'},
    )
    assert rest == []
    assert (edit.replacement, edit.added, edit.removed) == (None, {"a", "b"}, {"c"})


def test_okta_remove_with_value_list():
    _, edit = edit_of({"op": "remove", "path": "members", "value": [{"value": "a"}]})
    assert edit.removed == {"a"}


def test_remove_without_value_removes_everyone():
    _, edit = edit_of({"op": "remove", "path": "members"})
    assert edit.against({"a", "b"}) == (set(), {"a", "b"})


def test_replace_then_add_is_relative_to_the_replacement():
    _, edit = edit_of(
        {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "add", "path": "members", "value": [{"value": "c"}]},
        {"op": "remove", "path": 'members[value eq "a"]'},
    )
    assert edit.against({"a", "x"}) == ({"b", "c"}, {"a", "x"})


def test_later_operations_win():
    _, edit = edit_of(
        {"op": "add", "path": "members", "value": [{"value": "a"}]},
        {"op": "remove", "path": "members", "value": [{"value": "a"}]},
    )
    assert edit.against(set()) == (set(), set())


def test_no_path_value_object_splits_members_from_other_attributes():
    rest, edit = edit_of(
        {"op": "replace", "value": {"displayName": "New", "members": [{"value": "a"}]}}
    )
    assert rest == [{"op": "replace", "value": {"displayName": "New"}}]
    assert edit.replacement == {"a"}


def test_non_member_operations_are_kept_in_order():
    rest, edit = edit_of(
        {"op": "replace", "path": "displayName", "value": "X"},
        {"op": "add", "path": "members", "value": [{"value": "a"}]},
    )
    assert rest == [{"op": "replace", "path": "displayName", "value": "X"}]
    assert edit.added == {"a"}


def test_or_of_value_equalities_removes_each():
    _, edit = edit_of({"op": "remove", "path": 'members[value eq "a" or value eq "b"]'})
    assert edit.removed == {"a", "b"}


@pytest.mark.parametrize("path", ['members[display eq "x"]', 'members[value co "a"]'])
def test_unsupported_member_paths_are_invalid_paths(path):
    with pytest.raises(InvalidPathException):
        edit_of({"op": "remove", "path": path})


def test_add_by_filter_would_rewrite_an_immutable_member():
    """RFC 7643 §8.7.1: a member's value is immutable, so an entry cannot be rewritten."""
    with pytest.raises(MutabilityException):
        edit_of({"op": "add", "path": 'members[value eq "a"]', "value": "x"})


@pytest.mark.parametrize("value", [["a"], [{"display": "x"}], [{"value": 3}], "a"])
def test_malformed_member_values_are_invalid_values(value):
    with pytest.raises(InvalidValueException):
        member_ids(value)


def test_split_members_from_a_body():
    assert split_members({"displayName": "G"}) == ({"displayName": "G"}, None)
    assert split_members({"displayName": "G", "Members": [{"value": "a"}]}) == (
        {"displayName": "G"},
        {"a"},
    )


def test_empty_edit():
    assert MemberEdit().is_empty


@pytest.mark.parametrize(
    ("entry", "a_user"),
    [
        ({"value": "a"}, True),
        ({"value": "a", "type": "User", "display": "A"}, True),
        ({"value": "a", "type": "user", "$ref": "https://h/scim/v2/Users/a"}, True),
        ({"value": "a", "$ref": "Users/a"}, True),
        ({"value": "a", "type": "Group"}, False),
        ({"value": "a", "$ref": "https://h/scim/v2/Groups/a"}, False),
        ({"value": "a", "$ref": "https://h/scim/v2/Users/b"}, False),
    ],
)
def test_entries_naming_a_member_as_something_else_than_a_user(entry, a_user):
    """RFC 7643 §8.7.1: `type` and `$ref` are optional and immutable; they must say "this user"."""
    ids, not_users = member_entries([entry])
    assert (ids, not_users) == ({"a"}, set() if a_user else {"a"})


def test_a_member_named_as_another_type_is_mutability_if_current_else_invalid_value():
    _, edit = edit_of({"op": "add", "path": "members", "value": [{"value": "a", "type": "Group"}]})
    with pytest.raises(MutabilityException):
        edit.check_types({"a"})
    with pytest.raises(InvalidValueException):
        edit.check_types(set())
    _, removed = edit_of(
        {"op": "add", "path": "members", "value": [{"value": "a", "type": "Group"}]},
        {"op": "remove", "path": 'members[value eq "a"]'},
    )
    removed.check_types({"a"})


@pytest.mark.parametrize(
    "path", ["members.value", "members.$ref", 'members[value eq "a"].type', 'members[value eq "a"]']
)
def test_writing_a_member_sub_attribute_is_mutability(path):
    with pytest.raises(MutabilityException):
        edit_of({"op": "replace", "path": path, "value": {"value": "b"}})


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'members[value eq "a"].display', "value": "A"},
        {"op": "remove", "path": 'members[value eq "a"].display'},
        {"op": "add", "path": "members.nickname", "value": "x"},
        {"op": "replace", "path": 'members[value eq "a"]', "value": {"display": "A"}},
    ],
)
def test_writing_what_members_do_not_keep_changes_nothing(operation):
    rest, edit = edit_of(operation)
    assert rest == []
    assert edit.is_empty

"""sortBy values (RFC 7644 §3.4.2.3): how each attribute type compares."""

from __future__ import annotations

import pytest
from scim2_models import Context, Group, InvalidValueException

from provisioning.scim.ordering import sort_key
from provisioning.scim.resources import GROUP, USER

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(**body):
    return USER.model.model_validate(
        {"userName": "someone", **body}, scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )


def order(attribute, resources, models=(USER.model,)):
    key = sort_key(attribute, models)
    return sorted(range(len(resources)), key=lambda n: key.value(resources[n]))


def test_strings_compare_case_insensitively_unless_case_exact():
    people = [user(userName="bob"), user(userName="Alice"), user(userName="carol")]
    assert order("userName", people) == [1, 0, 2]
    tagged = [user(externalId="b"), user(externalId="B"), user(externalId="a")]
    assert order("externalId", tagged) == [1, 2, 0]  # "B" < "a" < "b" in code point order


def test_missing_values_sort_after_present_ones():
    people = [user(title=None), user(title="Engineer"), user(title="")]
    assert order("title", people)[0] == 1


def test_a_multi_valued_attribute_sorts_by_its_primary_value_else_its_first():
    people = [
        user(emails=[{"value": "z@x.org"}, {"value": "a@x.org", "primary": True}]),
        user(emails=[{"value": "m@x.org"}, {"value": "b@x.org"}]),
    ]
    assert order("emails", people) == [0, 1]
    assert order("emails.value", people) == [0, 1]


def test_dates_compare_as_instants_whatever_their_offset():
    people = [
        user(meta={"lastModified": "2024-01-01T01:30:00+02:00"}),  # 23:30 the day before
        user(meta={"lastModified": "2024-01-01T00:00:00Z"}),
    ]
    assert order("meta.lastModified", people) == [0, 1]


def test_an_extension_attribute_sorts_by_its_full_urn():
    people = [
        user(**{ENTERPRISE: {"employeeNumber": "9"}}),
        user(**{ENTERPRISE: {"employeeNumber": "10"}}),
    ]
    assert order(f"{ENTERPRISE}:employeeNumber", people) == [1, 0]  # a string attribute


def test_at_the_root_a_type_without_the_attribute_has_no_value():
    group = Group.model_validate(
        {"displayName": "Sales"}, scim_ctx=Context.RESOURCE_CREATION_REQUEST
    )
    key = sort_key("userName", (USER.model, GROUP.model))
    assert key.value(user(userName="zed")) < key.value(group)


@pytest.mark.parametrize("attribute", ["name", "nickname.value", "unknownAttribute", "a b", ""])
def test_what_cannot_be_sorted_by_is_an_invalid_value(attribute):
    with pytest.raises(InvalidValueException) as caught:
        sort_key(attribute, (USER.model,))
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidValue")

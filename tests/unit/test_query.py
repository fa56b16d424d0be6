"""List-request parameters (RFC 7644 §3.4.2) and which filters an index answers."""

import pytest
from scim2_models import InvalidFilterException, InvalidValueException

from provisioning.scim.filters import parse_filter
from provisioning.scim.query import Projection, parse_list_query
from provisioning.scim.resources import GROUP, MAX_RESULTS, USER
from provisioning.scim.search import MEMBER_OF, IndexLookup, index_plan


def plan(text, kind=USER):
    return index_plan(parse_filter(text, kind.model).ast, kind)


@pytest.mark.parametrize(
    ("text", "value", "position"),
    [
        ('userName eq "Bjensen@Example.com"', "bjensen@example.com", 0),
        ('USERNAME eq "x"', "x", 0),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', "x", 0),
        ('externalId eq "AbC"', "AbC", 1),
        ('id eq "1234"', "1234", None),
    ],
)
def test_equality_on_a_unique_attribute_is_one_index_read(text, value, position):
    assert plan(text) == {IndexLookup("User", value, position)}


def test_or_of_equalities_reads_each_index_once():
    assert plan('userName eq "a" or externalId eq "B" or id eq "c" or userName eq "A"') == {
        IndexLookup("User", "a", 0),
        IndexLookup("User", "B", 1),
        IndexLookup("User", "c", None),
    }


def test_and_reads_the_smallest_answered_term():
    text = '(userName eq "a" or userName eq "b") and externalId eq "x" and active eq true'
    assert plan(text) == {IndexLookup("User", "x", 1)}


def test_groups_are_found_by_display_name_case_insensitively():
    assert plan('displayName eq "Sales"', GROUP) == {IndexLookup("Group", "sales", 0)}


@pytest.mark.parametrize(
    "text",
    [
        'userName ne "x"',
        'userName co "x"',
        'displayName eq "x"',
        'emails[type eq "work"]',
        'userName eq "x" or active eq true',
        'not (userName eq "x")',
        "active eq true",
        "userName eq null",
        'name.familyName eq "x"',
    ],
)
def test_other_filters_are_answered_by_paging(text):
    assert plan(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "userName eq",
        'userName eq "x" and',
        '(userName eq "x"',
        'userName zz "x"',
        'emails[type eq "w"',
    ],
)
def test_invalid_filters_are_invalid_filter_errors(text):
    with pytest.raises(InvalidFilterException) as caught:
        parse_filter(text, USER.model)
    assert caught.value.scim_type == "invalidFilter"


def test_blank_filter_means_no_filter():
    assert parse_filter("  ", USER.model) is None


def test_paging_parameters_are_clamped_as_rfc_7644_says():
    query = parse_list_query({"startIndex": "0", "count": "-5"}, [USER.model])
    assert (query.start_index, query.count) == (1, 0)
    assert parse_list_query({"count": "100000"}, [USER.model]).count == MAX_RESULTS
    assert parse_list_query({}, [USER.model]).count == MAX_RESULTS


def test_non_integer_paging_parameters_are_invalid_values():
    with pytest.raises(InvalidValueException):
        parse_list_query({"startIndex": "one"}, [USER.model])


def test_projection_reads_comma_separated_attribute_lists():
    projection = Projection.from_params(
        {"attributes": "userName, emails.value", "excludedAttributes": ""}
    )
    assert projection.attributes == ("userName", "emails.value")
    assert projection.excluded == ()
    assert projection.excludes("members")
    assert not projection.excludes("emails")
    assert Projection(excluded=("Members",)).excludes("members")
    assert Projection().parameters() is None


def test_and_prefers_an_id_to_a_members_groups():
    assert plan('members eq "u" and id eq "g"', GROUP) == {IndexLookup("Group", "g", None)}


def test_a_members_value_path_matches_no_user_at_the_root():
    assert plan('members[value eq "u"]') == set()
    assert plan('members[value eq "u"]', GROUP) == {IndexLookup("Group", "u", MEMBER_OF)}


def test_an_empty_string_is_no_index_key():
    assert plan('userName eq ""') is None

"""List-request parameters (RFC 7644 §3.4.2) and which filters an index answers."""

import pytest
from scim2_models import InvalidFilterException, InvalidValueException

from provisioning.scim.filters import parse_filter
from provisioning.scim.query import Projection, index_lookup, parse_list_query
from provisioning.scim.resources import MAX_RESULTS, USER


def lookup(text):
    return index_lookup(parse_filter(text, USER.model).ast, USER)


@pytest.mark.parametrize(
    ("text", "attribute", "value", "position"),
    [
        ('userName eq "Bjensen@Example.com"', "userName", "bjensen@example.com", 0),
        ('USERNAME eq "x"', "userName", "x", 0),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"', "userName", "x", 0),
        ('externalId eq "AbC"', "externalId", "AbC", 1),
        ('id eq "1234"', "id", "1234", None),
    ],
)
def test_equality_on_a_unique_attribute_is_an_index_lookup(text, attribute, value, position):
    found = lookup(text)
    assert found is not None
    assert (found.attribute, found.value, found.position) == (attribute, value, position)


@pytest.mark.parametrize(
    "text",
    [
        'userName ne "x"',
        'userName co "x"',
        'displayName eq "x"',
        'emails[type eq "work"]',
        'userName eq "x" and active eq true',
        'not (userName eq "x")',
        "active eq true",
    ],
)
def test_other_filters_are_not_index_lookups(text):
    assert lookup(text) is None


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
    query = parse_list_query({"startIndex": "0", "count": "-5"}, USER)
    assert (query.start_index, query.count) == (1, 0)
    assert parse_list_query({"count": "100000"}, USER).count == MAX_RESULTS
    assert parse_list_query({}, USER).count == MAX_RESULTS


def test_non_integer_paging_parameters_are_invalid_values():
    with pytest.raises(InvalidValueException):
        parse_list_query({"startIndex": "one"}, USER)


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

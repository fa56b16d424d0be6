"""Conditional request headers read against a resource's version (pure).

RFC 7232 §3.1 (If-Match), §3.2 (If-None-Match), §6 (If-Match first); our ETags are weak
(RFC 7644 §3.14), so tags compare weakly in both headers."""

from __future__ import annotations

import pytest
from scim2_models import PreconditionFailedException

from provisioning.scim.service import Preconditions, Unmet, etag


@pytest.mark.parametrize(
    ("header", "names_version_3"),
    [
        ('W/"3"', True),
        ('"3"', True),
        ("*", True),
        (" * ", True),
        ('W/"1", W/"3"', True),
        ('W/"1",W/"3"', True),
        ('W/"1", "3", W/"a,b"', True),
        ('W/"1"', False),
        ('W/"33"', False),
        ('W/"a,3"', False),
        ("3", False),
        ("W/3", False),
        ("", False),
        ('W/"3', False),
        ('*, W/"1"', False),
    ],
)
def test_which_headers_name_a_version(header, names_version_3):
    assert (Preconditions(if_match=header).unmet(3) is None) is names_version_3
    assert (Preconditions(if_none_match=header).unmet(3) is None) is not names_version_3


def test_if_match_is_evaluated_first():
    both = Preconditions(if_match='W/"2"', if_none_match='W/"3"')
    assert both.unmet(3) is Unmet.IF_MATCH
    assert both.unmet(2) is None
    assert Preconditions(if_match='W/"3"', if_none_match='W/"3"').unmet(3) is Unmet.IF_NONE_MATCH


def test_no_header_is_no_precondition():
    assert not Preconditions().given
    assert Preconditions().unmet(1) is None
    assert Preconditions(if_none_match="").given


def test_a_write_that_fails_either_is_412():
    for preconditions in (Preconditions(if_match='W/"1"'), Preconditions(if_none_match="*")):
        with pytest.raises(PreconditionFailedException) as refused:
            preconditions.require(2)
        assert refused.value.status == 412
        assert not refused.value.scim_type  # RFC 7644 §3.12: 412 has none
        assert etag(2) in str(refused.value.detail)
    Preconditions(if_match='W/"2"', if_none_match='W/"1"').require(2)

"""Requests the HTTP fuzz (tests/http/test_http_fuzz.py, `make bench`) answered with a 5xx, each
pinned to the answer it gets now: a SCIM Error of the right status and scimType (RFC 7644 §3.12),
and nothing written."""

from __future__ import annotations

import pytest

from tests.conftest import PATCH_SCHEMA, USER_SCHEMA, directory_items
from tests.http.test_preconditions import GROUP_SCHEMA, refused

# Python's JSON reader turns an escaped lone surrogate, and the UTF-8 bytes of one, into a str
# that cannot be encoded: the uniqueness key of userName / displayName failed with a 500.
LONE_SURROGATES = [
    pytest.param(b'"ada\\ud800@contoso.com"', id="escaped high surrogate"),
    pytest.param(b'"ada\\udfff"', id="escaped low surrogate"),
    pytest.param(b'"ada\\udc00\\ud800"', id="escaped pair in the wrong order"),
    pytest.param(b'"ada\xed\xa0\x80"', id="UTF-8 bytes of a surrogate"),
]


@pytest.mark.parametrize("value", LONE_SURROGATES)
def test_a_user_name_with_a_lone_surrogate_is_400_invalid_syntax(contoso, value):
    before = directory_items()
    body = b'{"schemas": ["%s"], "userName": %s}' % (USER_SCHEMA.encode(), value)
    refused(contoso.post("/Users", body), 400, "invalidSyntax")
    contoso.stack.drain()
    assert directory_items() == before


@pytest.mark.parametrize("value", LONE_SURROGATES)
def test_a_group_name_with_a_lone_surrogate_is_400_invalid_syntax(contoso, value):
    before = directory_items()
    body = b'{"schemas": ["%s"], "displayName": %s}' % (GROUP_SCHEMA.encode(), value)
    refused(contoso.post("/Groups", body), 400, "invalidSyntax")
    contoso.stack.drain()
    assert directory_items() == before


@pytest.mark.parametrize("value", LONE_SURROGATES)
def test_put_and_patch_with_a_lone_surrogate_leave_the_user_unchanged(contoso, value):
    user = f"/Users/{contoso.create_user('ada@contoso.com')['id']}"
    contoso.stack.drain()
    before = directory_items()
    put = b'{"schemas": ["%s"], "userName": %s}' % (USER_SCHEMA.encode(), value)
    refused(contoso.request("PUT", user, put), 400, "invalidSyntax")
    patch = (
        b'{"schemas": ["%s"], "Operations": [{"op": "replace", "path": "userName", "value": %s}]}'
    )
    refused(
        contoso.request("PATCH", user, patch % (PATCH_SCHEMA.encode(), value)), 400, "invalidSyntax"
    )
    contoso.stack.drain()
    assert directory_items() == before


def test_a_valid_surrogate_pair_is_one_character_and_accepted(contoso):
    """An escaped pair (RFC 8259 §7) is an astral character: stored and returned as such."""
    body = b'{"schemas": ["%s"], "userName": "ada\\ud83d\\ude00"}' % USER_SCHEMA.encode()
    response = contoso.post("/Users", body)
    assert response.status == 201, response.body
    assert response.json()["userName"] == "ada\U0001f600"


# A user of ~140 KB of UTF-8 (one entitlement type of 68,000 "é") that moto counts past 400 KB:
# the transaction was cancelled with the item's reason `ItemSizeTooLarge`, which was not read as
# the item limit, so the create was a 500 instead of the 413 of any other oversized resource.
def test_an_item_cancelled_as_too_large_in_a_transaction_is_413(contoso):
    before = directory_items()
    body = {
        "schemas": [USER_SCHEMA],
        "userName": "big@contoso.com",
        "entitlements": [{"primary": "false", "type": "\u00e9" * 68_000}],
    }
    response = contoso.post("/Users", body)
    detail = refused(response, 413)["detail"]
    assert "400 KB" in detail
    contoso.stack.drain()
    assert directory_items() == before


def test_a_patch_that_grows_a_user_past_the_item_limit_is_413_and_changes_nothing(contoso):
    user = f"/Users/{contoso.create_user('ada@contoso.com')['id']}"
    contoso.stack.drain()
    before = directory_items()
    operation = {"op": "add", "path": "entitlements", "value": [{"type": "\u00e9" * 68_000}]}
    refused(contoso.patch(user, [operation]), 413)
    contoso.stack.drain()
    assert directory_items() == before

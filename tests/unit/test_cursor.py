"""RFC 9865 cursors: opaque, URL-safe, bound to their query, count and caller, expiring."""

from __future__ import annotations

import re

import pytest
from scim2_models import ExpiredCursorException, InvalidCountException, InvalidCursorException

from provisioning.scim.cursor import CursorCodec, cursor_key

KEY = cursor_key("contoso", "Bearer scim_contoso_secret")
QUERY = '["userName sw \\"a\\"", null]'


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def codec(clock: Clock) -> CursorCodec:
    return CursorCodec(KEY, clock, timeout_seconds=3600)


def test_a_cursor_resumes_at_the_position_it_was_issued_for(codec):
    cursor = codec.issue([0, "user-7"], QUERY, 10)
    assert codec.read(cursor, QUERY, 10) == [0, "user-7"]


def test_a_cursor_holds_only_url_unreserved_characters(codec):
    cursor = codec.issue([0, "ü/+= ?&", 1.5, None, True], QUERY, 10)
    assert re.fullmatch(r"[A-Za-z0-9._~-]+", cursor)


@pytest.mark.parametrize(
    "forged",
    ["", "garbage", "a.b", "%%%.%%%", "WzFd.AAAA"],
)
def test_anything_not_issued_is_an_invalid_cursor(codec, forged):
    with pytest.raises(InvalidCursorException) as caught:
        codec.read(forged, QUERY, 10)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidCursor")


def test_an_altered_position_breaks_the_signature(codec):
    body, signature = codec.issue([0, "user-7"], QUERY, 10).split(".")
    other_body = codec.issue([0, "user-9"], QUERY, 10).split(".")[0]
    assert other_body != body
    with pytest.raises(InvalidCursorException):
        codec.read(f"{other_body}.{signature}", QUERY, 10)


def test_a_cursor_of_another_query_is_invalid(codec):
    cursor = codec.issue([0, "user-7"], QUERY, 10)
    with pytest.raises(InvalidCursorException):
        codec.read(cursor, '["active eq true", null]', 10)


def test_a_cursor_of_another_credential_is_invalid(codec, clock):
    cursor = codec.issue([0, "user-7"], QUERY, 10)
    rotated = CursorCodec(cursor_key("contoso", "Bearer scim_contoso_other"), clock)
    other_org = CursorCodec(cursor_key("fabrikam", "Bearer scim_contoso_secret"), clock)
    for reader in (rotated, other_org):
        with pytest.raises(InvalidCursorException):
            reader.read(cursor, QUERY, 10)


def test_changing_count_between_pages_is_an_invalid_count(codec):
    cursor = codec.issue([0, "user-7"], QUERY, 10)
    with pytest.raises(InvalidCountException) as caught:
        codec.read(cursor, QUERY, 20)
    assert caught.value.scim_type == "invalidCount"


def test_a_cursor_expires_after_the_timeout(codec, clock):
    cursor = codec.issue([0, "user-7"], QUERY, 10)
    clock.now += 3600
    assert codec.read(cursor, QUERY, 10) == [0, "user-7"]
    clock.now += 1
    with pytest.raises(ExpiredCursorException) as caught:
        codec.read(cursor, QUERY, 10)
    assert (caught.value.status, caught.value.scim_type) == (400, "expiredCursor")

"""Cursors of RFC 9865: opaque, URL-safe, bound to the query that issued them and to the caller's
credential, valid for `cursorTimeout` seconds.

A cursor carries the order key of the last resource a page covered (for an id-ordered listing,
DynamoDB's own ExclusiveStartKey) and is signed with a key derived from the bearer credential of
the request, so a forged or altered cursor is refused at once (RFC 9865 §5.2) and a rotated-away
token's cursors stop working (§5: cursors give no access beyond the caller's).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from scim2_models import ExpiredCursorException, InvalidCountException, InvalidCursorException

from provisioning.scim.resources import CURSOR_TIMEOUT_SECONDS

_VERSION = 1
_SIGNATURE_BYTES = 16


def cursor_key(org_id: str, credential: str) -> bytes:
    """The signing key of a caller's cursors (never stored: derived on every request)."""
    return hashlib.sha256(f"scim-cursor\0{org_id}\0{credential}".encode()).digest()


class CursorCodec:
    """Issues and reads the cursors of one caller."""

    def __init__(
        self,
        key: bytes,
        clock: Callable[[], float] = time.time,
        timeout_seconds: int = CURSOR_TIMEOUT_SECONDS,
    ) -> None:
        self._key = key
        self._clock = clock
        self._timeout = timeout_seconds

    def issue(self, position: list[Any], query: str, count: int) -> str:
        payload = [_VERSION, int(self._clock()), _digest(query), count, position]
        body = json.dumps(payload, separators=(",", ":")).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def read(self, cursor: str, query: str, count: int) -> list[Any]:
        """The position a cursor resumes after; invalidCursor, invalidCount or expiredCursor
        (RFC 9865 §2.1) when it cannot be used for this query."""
        body = self._verified(cursor)
        try:
            version, issued, digest, issued_count, position = json.loads(body)
        except (ValueError, TypeError):
            raise _invalid() from None
        if version != _VERSION or digest != _digest(query) or not isinstance(position, list):
            raise _invalid()
        if issued_count != count:
            raise InvalidCountException(detail="count must stay the same on every page")
        if not isinstance(issued, int) or self._clock() - issued > self._timeout:
            raise ExpiredCursorException(
                detail=f"cursors are valid for {self._timeout} seconds; start again"
            )
        return position

    def _verified(self, cursor: str) -> bytes:
        encoded, _, signature = cursor.partition(".")
        try:
            body = _unb64(encoded)
            expected = _unb64(signature)
        except (ValueError, binascii.Error):
            raise _invalid() from None
        if not hmac.compare_digest(expected, self._sign(body)):
            raise _invalid()
        return body

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _invalid() -> InvalidCursorException:
    return InvalidCursorException(
        detail="the cursor is not one this service issued for this query; start with an empty one"
    )


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    # base64url without padding: only RFC 3986 unreserved characters, as RFC 9865 §2 requires.
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""The request body limit in the ASGI app (RFC 7644 §3.12: 413, its body naming the limit): a
declared Content-Length over the limit is refused before the body is read, and a body without one
is counted as it arrives and refused as soon as it passes the limit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from provisioning.http.app import Request, Response, Route, ScimApp

LIMIT = 100
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def app() -> ScimApp:
    def echo(request: Request) -> Response:
        return Response(200, {"received": len(request.body)})

    return ScimApp([Route("/Users", {"POST": echo})], LIMIT)


def scope(headers: dict[str, str], org_id: str | None = "org") -> dict[str, Any]:
    authorizer = {"lambda": {"orgId": org_id}} if org_id else {}
    return {
        "type": "http",
        "method": "POST",
        "path": "/scim/v2/Users",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "aws.event": {"requestContext": {"authorizer": authorizer}},
    }


def call(headers: dict[str, str], chunks: list[bytes], org_id: str | None = "org"):
    """Run one request; answer (status, body, how many chunks the app read)."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        read += 1
        return {"body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app()(scope(headers, org_id), receive, send))
    body = sent[1]["body"]
    return sent[0]["status"], json.loads(body) if body else None, read


def test_a_declared_length_over_the_limit_is_413_before_any_read():
    status, body, read = call({"content-length": str(LIMIT + 1)}, [b"{}"])
    assert (status, read) == (413, 0)
    assert body["schemas"] == [ERROR]
    assert body["status"] == "413"
    assert "scimType" not in body  # RFC 7644 §3.12 defines none for 413
    assert f"{LIMIT} bytes" in body["detail"]


def test_a_body_without_length_is_refused_once_it_passes_the_limit():
    chunks = [b"x" * 60, b"x" * 60, b"never read"]
    status, body, read = call({}, chunks)
    assert (status, body["status"], read) == (413, "413", 2)


def test_a_false_declared_length_does_not_get_past_the_count():
    status, _, _ = call({"content-length": "10"}, [b"x" * 60, b"x" * 60])
    assert status == 413


def test_an_unreadable_declared_length_leaves_it_to_the_count():
    assert call({"content-length": "lots"}, [b"{}"])[:2] == (200, {"received": 2})
    assert call({"content-length": "lots"}, [b"x" * (LIMIT + 1)])[0] == 413


def test_a_body_at_the_limit_is_accepted():
    status, body, _ = call({"content-length": str(LIMIT)}, [b"x" * LIMIT])
    assert (status, body) == (200, {"received": LIMIT})


def test_an_unauthenticated_request_is_401_whatever_its_size():
    status, body, read = call({"content-length": str(10 * LIMIT)}, [b"{}"], org_id=None)
    assert (status, body["status"], read) == (401, "401", 0)

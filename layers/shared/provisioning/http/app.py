"""A small ASGI application per Lambda function.

Mangum hands it API Gateway's event; it authenticates from the request context, routes by path
template, and turns every exception into an error response in one place. Handlers are synchronous
functions of a `Request` returning a `Response`: a Lambda container serves one request at a time.
What differs between the SCIM API and the admin API (base path, media type, who the caller is, the
error body) is the app's `Dialect`; SCIM is the default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger
from scim2_models import (
    InvalidSyntaxException,
    NotFoundException,
    PayloadTooLargeException,
    SCIMException,
    UnauthorizedException,
)

from provisioning.scim.errors import (
    MethodNotAllowed,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    error_body,
    from_aws_failure,
)

SCIM_CONTENT_TYPE = "application/scim+json"
BASE_PATH = "/scim/v2"

logger = Logger(child=True)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    """What an endpoint needs of an HTTP request, already authenticated: to an organization on the
    SCIM API (`org_id`), as an IAM principal on the admin API (`caller`, the org is in the path)."""

    method: str
    path: str
    org_id: str
    base_url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    path_params: Mapping[str, str] = field(default_factory=dict)
    caller: str = ""

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or 400 invalidSyntax."""
        try:
            payload = json.loads(self.body or b"null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise InvalidSyntaxException(detail="the request body is not valid JSON") from None
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="the request body must be a JSON object")
        try:
            # Python's JSON reader lets unpaired surrogates through, escaped (`"\ud800"`) or
            # encoded as UTF-8 bytes; they are no Unicode characters, cannot be stored or keyed,
            # and RFC 8259 §8.2 leaves their meaning undefined (RFC 7493 §2.1 forbids them).
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidSyntaxException(
                detail="the request body holds an unpaired UTF-16 surrogate (U+D800 to U+DFFF)"
            ) from None
        return payload

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Response:
    status: int
    body: Mapping[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Endpoint = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    """One path template (`/Users/{id}`) and its endpoints by HTTP method."""

    template: str
    endpoints: Mapping[str, Endpoint]

    def match(self, path: str) -> dict[str, str] | None:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        found = re.fullmatch(pattern, path)
        return found.groupdict() if found else None


def error_response(exc: SCIMException) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, UnauthorizedException):
        # RFC 6750 §3: a bearer-token challenge on every 401.
        headers["WWW-Authenticate"] = 'Bearer realm="scim", error="invalid_token"'
    if isinstance(exc, TooManyRequests | ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(exc.status, error_body(exc), headers)


class Dialect(Protocol):
    """What an API served by `ScimApp` defines for itself."""

    base_path: str
    content_type: str

    def identify(self, scope: Scope) -> tuple[str, str]:
        """The request's (org id, caller), or an exception refusing it."""
        ...

    def error_response(self, exc: Exception) -> Response:
        """The response for a failure; an unexpected one is a 500 without internals (logged)."""
        ...


class Scim:
    """The SCIM dialect: RFC 7644 paths, media type and Error bodies; the org from the token."""

    base_path = BASE_PATH
    content_type = SCIM_CONTENT_TYPE

    def identify(self, scope: Scope) -> tuple[str, str]:
        return _authorized_org(scope), ""

    def error_response(self, exc: Exception) -> Response:
        if isinstance(exc, SCIMException):
            return error_response(exc)
        return error_response(from_aws_failure(exc) or ServerError())


class ScimApp:
    """The ASGI application of one function: its routes under its dialect's base path."""

    def __init__(
        self, routes: Sequence[Route], max_body_bytes: int, dialect: Dialect | None = None
    ) -> None:
        self._routes = routes
        self._max_body_bytes = max_body_bytes
        self._dialect: Dialect = dialect or Scim()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            org_id, caller = self._dialect.identify(scope)
            self._check_declared_length(scope)
            body = await self._read_body(receive)
            response = self.handle(self._request(scope, body, org_id, caller))
        except Exception as exc:
            response = self._dialect.error_response(exc)
            if response.status >= 500:
                logger.exception("request failed", extra={"status": response.status})
            elif not isinstance(exc, SCIMException):
                # An AWS throttle turned into a 429: worth a look if it keeps happening.
                logger.warning("request shed", extra={"status": response.status})
        await _send(send, response, self._dialect.content_type)

    def handle(self, request: Request) -> Response:
        """Route an authenticated request to its endpoint."""
        relative = request.path.removeprefix(self._dialect.base_path) or "/"
        for route in self._routes:
            params = route.match(relative)
            if params is None:
                continue
            endpoint = route.endpoints.get(request.method)
            if endpoint is None:
                raise MethodNotAllowed(
                    detail=f"{request.method} is not supported on {route.template}"
                )
            return endpoint(replace(request, path_params=params))
        raise NotFoundException(detail=f"no endpoint at {request.path}")

    def _check_declared_length(self, scope: Scope) -> None:
        """413 for a body whose Content-Length is over the limit, before a byte of it is read
        (RFC 7644 §3.12; the body says which limit). A missing or unreadable Content-Length
        leaves the limit to the count taken while reading."""
        declared = (_header(scope, b"content-length") or "").strip()
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            raise self._too_large()

    def _too_large(self) -> PayloadTooLargeException:
        return PayloadTooLargeException(
            detail=f"request bodies are limited to {self._max_body_bytes} bytes"
        )

    async def _read_body(self, receive: Receive) -> bytes:
        """The body, counted as it arrives: 413 as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    def _request(self, scope: Scope, body: bytes, org_id: str, caller: str) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        scheme = headers.get("x-forwarded-proto", "https")
        host = headers.get("host", "localhost")
        return Request(
            method=scope["method"].upper(),
            path=scope["path"],
            org_id=org_id,
            base_url=f"{scheme}://{host}{self._dialect.base_path}",
            params=dict(parse_qsl(query, keep_blank_values=True)),
            headers=headers,
            body=body,
            caller=caller,
        )


def _header(scope: Scope, name: bytes) -> str | None:
    """One request header of an ASGI scope (names are lowercase there), or None."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _authorized_org(scope: Scope) -> str:
    """The organization the authorizer established. The authorizer lets bad tokens through with
    `authError`, and an organization over its request rate with `retryAfter` (HTTP APIs cannot
    shape their own 401s and 429s), so the refusal happens here, for every route of every
    function, before any routing or read."""
    event = scope.get("aws.event") or {}
    context = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    org_id = context.get("orgId")
    if not isinstance(org_id, str) or not org_id:
        raise UnauthorizedException(detail="a valid bearer token is required")
    retry_after = context.get("retryAfter")
    if retry_after is not None:
        raise TooManyRequests(
            retry_after=max(1, int(retry_after)),
            detail="this organization is over its request rate; retry after Retry-After seconds",
        )
    return org_id


async def _send(send: Send, response: Response, content_type: str) -> None:
    payload = b"" if response.body is None else json.dumps(response.body).encode()
    headers = [(k.lower().encode(), v.encode()) for k, v in response.headers.items()]
    if payload:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})

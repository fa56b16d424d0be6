"""API Gateway HTTP API, in process: routing, the Lambda authorizer and payload format 2.0.

Handlers are tested against what API Gateway really sends and really does with their answers, so
this module follows the service's documented and observed behaviour rather than what would be
convenient: the gateway's own errors are its fixed `{"message": ...}` bodies, request bodies that
are not text reach the function base64-encoded, and the authorizer's answer is cached per identity
source for the authorizer's TTL.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from provisioning.local.cfn import PseudoParameters
from provisioning.local.lambdas import FunctionError, FunctionRuntime
from provisioning.local.template import (
    DEFAULT_ROUTE,
    IAM_AUTHORIZER,
    HttpApiSpec,
    LambdaAuthorizerSpec,
    Route,
)

logger = logging.getLogger("provisioning.local")

# API Gateway HTTP APIs refuse larger request payloads.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# Observed on AWS: only these reach the function as text; everything else, including a request
# without Content-Type and `application/scim+json`, arrives base64-encoded with isBase64Encoded.
_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
# The fixed IAM user that signs every request to an IAM route locally.
LOCAL_USER_NAME = "local-admin"
LOCAL_USER_ID = "AIDALOCALADMIN0000000"
LOCAL_ACCESS_KEY = "AKIALOCALADMIN000000"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as it reaches API Gateway: `target` is the raw path and query string."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    scheme: str = "https"
    port: int = 443
    # False when it came through a server bound to a non-loopback address: IAM routes, which
    # nothing checks locally, are served to loopback listeners (and in-process callers) only.
    loopback_listener: bool = True


@dataclass
class HttpResponse:
    """What the client receives: header names lower-cased, each Set-Cookie kept apart."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def gateway_error(status: int, message: str, request_id: str = "") -> HttpResponse:
    """One of API Gateway's own responses, with its fixed body."""
    headers = {"content-type": "application/json"}
    if request_id:
        headers["apigw-requestid"] = request_id
    return HttpResponse(
        status, headers, json.dumps({"message": message}, separators=(",", ":")).encode()
    )


@dataclass(frozen=True)
class _CompiledRoute:
    route: Route
    segments: tuple[str, ...]

    @classmethod
    def of(cls, route: Route) -> _CompiledRoute:
        segments = () if route.path == DEFAULT_ROUTE else tuple(route.path.split("/")[1:])
        return cls(route, segments)

    @property
    def greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def rank(self) -> tuple[int, tuple[int, ...], int]:
        """API Gateway prefers a route without a greedy variable, then literal segments over
        variables from the left, then a route with the exact method over ANY."""
        literals = tuple(int(not segment.startswith("{")) for segment in self.segments)
        return (int(not self.greedy), literals, int(self.route.method != "ANY"))

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        if self.route.method not in ("ANY", method):
            return None
        params: dict[str, str] = {}
        for index, pattern in enumerate(self.segments):
            if pattern.startswith("{") and pattern.endswith("+}"):
                rest = segments[index:]
                if not rest or not "".join(rest):
                    return None
                params[pattern[1:-2]] = unquote("/".join(rest))
                return params
            if index >= len(segments):
                return None
            segment = segments[index]
            if pattern.startswith("{") and pattern.endswith("}"):
                if not segment:
                    return None
                params[pattern[1:-1]] = unquote(segment)
            elif unquote(segment) != pattern:
                return None
        return params if len(segments) == len(self.segments) else None


class Router:
    """Picks the route API Gateway would pick for a method and a raw path."""

    def __init__(self, routes: Iterable[Route]) -> None:
        compiled = [_CompiledRoute.of(route) for route in routes]
        self._default = next((c.route for c in compiled if c.route.path == DEFAULT_ROUTE), None)
        self._routes = sorted(
            (c for c in compiled if c.route.path != DEFAULT_ROUTE),
            key=_CompiledRoute.rank,
            reverse=True,
        )

    def match(self, method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        """The matched route and its decoded path parameters, or None (API Gateway's 404)."""
        if not raw_path.startswith("/"):
            return None
        segments = raw_path.split("/")[1:]
        for candidate in self._routes:
            params = candidate.match(method.upper(), segments)
            if params is not None:
                return candidate.route, params
        return (self._default, {}) if self._default else None


def is_text_body(content_type: str | None) -> bool:
    """Whether API Gateway hands this body to the function as text rather than base64."""
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES


def _request_time(moment: float) -> str:
    # Built by hand: strftime's %b follows the locale, API Gateway's month names do not.
    utc = datetime.fromtimestamp(moment, UTC)
    return (
        f"{utc.day:02d}/{_MONTHS[utc.month - 1]}/{utc.year}:"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} +0000"
    )


def _request_id() -> str:
    # Shaped like API Gateway's: 11 random bytes, URL-safe base64, one '=' of padding.
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


@dataclass
class _Prepared:
    """The parts of a request the authorizer event and the function event share."""

    route: Route
    path_parameters: dict[str, str]
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    cookies: list[str]
    query: dict[str, str]
    request_context: dict[str, Any]


class LocalGateway:
    """One HTTP API: turns `HttpRequest`s into function invocations and their answers back."""

    def __init__(
        self,
        api: HttpApiSpec,
        runtime: FunctionRuntime,
        *,
        pseudo: PseudoParameters | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.router = Router(api.routes)
        self._runtime = runtime
        self._pseudo = pseudo or PseudoParameters()
        self._clock = clock
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    def local_principal(self) -> dict[str, Any]:
        """The IAM caller every IAM route sees locally, shaped as API Gateway describes a SigV4
        signer (payload format 2.0, `requestContext.authorizer.iam`)."""
        return {
            "accessKey": LOCAL_ACCESS_KEY,
            "accountId": self._pseudo.account_id,
            "callerId": LOCAL_USER_ID,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:{self._pseudo.partition}:iam::{self._pseudo.account_id}:user/"
            f"{LOCAL_USER_NAME}",
            "userId": LOCAL_USER_ID,
        }

    @property
    def domain_name(self) -> str:
        return f"{self.api.api_id}.execute-api.{self._pseudo.region}.{self._pseudo.url_suffix}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Serve one request exactly as API Gateway would, including its own error answers."""
        request_id = _request_id()
        if len(request.body) > MAX_PAYLOAD_BYTES:
            return gateway_error(413, "Request Entity Too Large", request_id)
        target_path, _, raw_query = request.target.partition("?")
        matched = self.router.match(request.method, target_path)
        if matched is None:
            return gateway_error(404, "Not Found", request_id)
        route, path_parameters = matched
        # HTTP APIs hand functions the decoded path (observed; REST APIs keep it encoded).
        raw_path = unquote(target_path)
        prepared = self._prepare(request, route, path_parameters, raw_path, raw_query, request_id)

        if route.authorizer == IAM_AUTHORIZER and not request.loopback_listener:
            logger.warning("%s: IAM route refused on a non-loopback listener", route.key)
            return gateway_error(403, "Forbidden", request_id)
        authorizer_context: Any = None
        if route.authorizer is not None and route.authorizer != IAM_AUTHORIZER:
            authorizer = self.api.authorizers.get(route.authorizer)
            if authorizer is None:
                logger.error(
                    "route %s uses authorizer %s, which is not served locally",
                    route.key,
                    route.authorizer,
                )
                return gateway_error(500, "Internal Server Error", request_id)
            decision = self._authorize(authorizer, prepared)
            if isinstance(decision, HttpResponse):
                decision.headers["apigw-requestid"] = request_id
                return decision
            authorizer_context = decision

        event = self._function_event(request, prepared, authorizer_context)
        try:
            result = self._runtime.invoke(route.function, event)
            response = _integration_response(result)
        except FunctionError:
            return gateway_error(500, "Internal Server Error", request_id)
        response.headers["apigw-requestid"] = request_id
        return response

    def _prepare(
        self,
        request: HttpRequest,
        route: Route,
        path_parameters: dict[str, str],
        raw_path: str,
        raw_query: str,
        request_id: str,
    ) -> _Prepared:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers:
            key = name.lower()
            if key == "cookie":
                # Format 2.0 moves cookies out of the headers into their own list.
                cookies.extend(part.strip() for part in value.split(";") if part.strip())
            elif key in headers:
                headers[key] = f"{headers[key]},{value}"
            else:
                headers[key] = value
        headers.setdefault("host", self.domain_name)
        forwarded = headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = (
            f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
        )
        headers["x-forwarded-port"] = str(request.port)
        headers["x-forwarded-proto"] = request.scheme
        now = time.time()
        headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
        if request.body:
            headers["content-length"] = str(len(request.body))

        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            # Format 2.0 has no multi-value map: repeated keys are comma-joined.
            query[key] = f"{query[key]},{value}" if key in query else value

        domain_name = headers["host"].split(":", 1)[0]
        request_context = {
            "accountId": self._pseudo.account_id,
            "apiId": self.api.api_id,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".", 1)[0],
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.key,
            "stage": self.api.stage,
            "time": _request_time(now),
            "timeEpoch": int(now * 1000),
        }
        return _Prepared(
            route, path_parameters, raw_path, raw_query, headers, cookies, query, request_context
        )

    def _common_fields(self, prepared: _Prepared) -> dict[str, Any]:
        # Keys absent on AWS when empty stay absent here, so handlers meet the same shapes.
        fields: dict[str, Any] = {
            "routeKey": prepared.route.key,
            "rawPath": prepared.raw_path,
            "rawQueryString": prepared.raw_query,
        }
        if prepared.cookies:
            fields["cookies"] = list(prepared.cookies)
        fields["headers"] = dict(prepared.headers)
        if prepared.query:
            fields["queryStringParameters"] = dict(prepared.query)
        return fields

    def _function_event(
        self, request: HttpRequest, prepared: _Prepared, authorizer_context: Any
    ) -> dict[str, Any]:
        request_context = json.loads(json.dumps(prepared.request_context))
        if prepared.route.authorizer == IAM_AUTHORIZER:
            request_context["authorizer"] = {"iam": self.local_principal()}
        elif prepared.route.authorizer is not None:
            request_context["authorizer"] = {"lambda": authorizer_context}
        event: dict[str, Any] = {"version": "2.0", **self._common_fields(prepared)}
        event["requestContext"] = request_context
        if request.body:
            if is_text_body(prepared.headers.get("content-type")):
                try:
                    event["body"] = request.body.decode("utf-8")
                    event["isBase64Encoded"] = False
                except UnicodeDecodeError:
                    event["body"] = base64.b64encode(request.body).decode()
                    event["isBase64Encoded"] = True
            else:
                event["body"] = base64.b64encode(request.body).decode()
                event["isBase64Encoded"] = True
        else:
            event["isBase64Encoded"] = False
        if prepared.path_parameters:
            event["pathParameters"] = dict(prepared.path_parameters)
        return event

    def _authorizer_event(self, prepared: _Prepared, identity: list[str]) -> dict[str, Any]:
        method = prepared.request_context["http"]["method"]
        route_arn = (
            f"arn:{self._pseudo.partition}:execute-api:{self._pseudo.region}:"
            f"{self._pseudo.account_id}:{self.api.api_id}/{self.api.stage}/{method}"
            f"{prepared.raw_path}"
        )
        event: dict[str, Any] = {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": route_arn,
            "identitySource": identity,
            **self._common_fields(prepared),
            "requestContext": json.loads(json.dumps(prepared.request_context)),
        }
        if prepared.path_parameters:
            event["pathParameters"] = dict(prepared.path_parameters)
        return event

    def _identity(self, authorizer: LambdaAuthorizerSpec, prepared: _Prepared) -> list[str] | None:
        values = [prepared.headers.get(name.lower(), "") for name in authorizer.identity_headers]
        values += [prepared.query.get(name, "") for name in authorizer.identity_query_strings]
        return values if all(values) else None

    def _authorize(
        self, authorizer: LambdaAuthorizerSpec, prepared: _Prepared
    ) -> HttpResponse | Any:
        """The authorizer's context for this request, or the gateway's refusal."""
        if authorizer.payload_version != "2.0":
            logger.error(
                "authorizer %s: only payload format 2.0 is served locally", authorizer.name
            )
            return gateway_error(500, "Internal Server Error")
        identity = self._identity(authorizer, prepared)
        has_sources = bool(authorizer.identity_headers or authorizer.identity_query_strings)
        if has_sources and identity is None:
            # Documented: a missing identity source is a 401 without invoking the authorizer.
            return gateway_error(401, "Unauthorized")
        identity = identity or []
        answer = self._cached(authorizer, identity)
        if answer is None:
            event = self._authorizer_event(prepared, identity)
            try:
                answer = self._runtime.invoke(authorizer.function, event)
            except FunctionError:
                return gateway_error(500, "Internal Server Error")
            if not isinstance(answer, dict) or _decide(authorizer, answer, "") is None:
                # Like a failure, a malformed answer is not cached: the next request asks again.
                logger.error("authorizer %s returned a malformed answer", authorizer.name)
                return gateway_error(500, "Internal Server Error")
            self._remember(authorizer, identity, answer)
        route_arn = self._authorizer_event(prepared, identity)["routeArn"]
        if not _decide(authorizer, answer, route_arn):
            return gateway_error(403, "Forbidden")
        return answer.get("context")

    def _cached(self, authorizer: LambdaAuthorizerSpec, identity: list[str]) -> Any:
        if authorizer.ttl_seconds <= 0 or not identity:
            return None
        with self._cache_lock:
            entry = self._cache.get((authorizer.name, tuple(identity)))
            if entry is None or entry[0] <= self._clock():
                return None
            return entry[1]

    def _remember(
        self, authorizer: LambdaAuthorizerSpec, identity: list[str], answer: dict[str, Any]
    ) -> None:
        if authorizer.ttl_seconds <= 0 or not identity:
            return
        expires = self._clock() + authorizer.ttl_seconds
        with self._cache_lock:
            self._cache[(authorizer.name, tuple(identity))] = (expires, answer)


def _decide(
    authorizer: LambdaAuthorizerSpec, answer: Mapping[str, Any], route_arn: str
) -> bool | None:
    """Allow, deny, or None for an answer API Gateway would reject as malformed."""
    context = answer.get("context")
    if context is not None and not isinstance(context, dict):
        return None
    if authorizer.simple_responses:
        allowed = answer.get("isAuthorized")
        return allowed if isinstance(allowed, bool) else None
    # An IAM policy answer: an explicit Deny wins, then any Allow of this route's ARN.
    policy = answer.get("policyDocument")
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), list):
        return None
    verdicts = set()
    for statement in policy["Statement"]:
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if any(fnmatch.fnmatchcase(route_arn, str(pattern)) for pattern in resources):
            verdicts.add(str(statement.get("Effect", "")))
    return "Deny" not in verdicts and "Allow" in verdicts


def _integration_response(result: Any) -> HttpResponse:
    """The HTTP response API Gateway builds from a function's result (payload format 2.0)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # Documented inference: anything but a structured response is a 200 JSON body, a string
        # being sent as it is.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, {"content-type": "application/json"}, body.encode())
    try:
        status = int(result["statusCode"])
        headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        cookies = [str(cookie) for cookie in result.get("cookies") or []]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            key = str(name).lower()
            if key == "set-cookie":
                cookies.extend(str(value) for value in values)
                continue
            joined = ",".join(str(value) for value in values)
            headers[key] = f"{headers[key]},{joined}" if key in headers else joined
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise TypeError("body must be a string")
        payload = (
            base64.b64decode(body, validate=True)
            if result.get("isBase64Encoded")
            else (body.encode("utf-8"))
        )
    except (TypeError, ValueError, AttributeError, binascii.Error) as exc:
        logger.error("malformed Lambda response: %s", exc)
        raise FunctionError("integration", "malformed Lambda proxy response") from exc
    if not 100 <= status <= 599:
        raise FunctionError("integration", f"status code {status} out of range")
    return HttpResponse(status, headers, payload, cookies)

"""Every failure leaves the service as a SCIM Error (RFC 7644 §3.12), built here and nowhere else.

Deep code raises scim2-models' typed exceptions (each carries its status and `scimType`); payload
validation raises pydantic's ValidationError, which is translated here.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import ValidationError
from scim2_models import (
    Error,
    InvalidSyntaxException,
    InvalidValueException,
    SCIMException,
)

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"

# pydantic error types that mean the body's structure, not a value, is wrong.
_SYNTAX_ERROR_TYPES = {"json_invalid", "json_type", "schema_error", "model_type", "dict_type"}


class ServerError(SCIMException):
    """An unexpected failure: reported as a bare 500 without internals."""

    status = 500
    _default_detail = "The service could not complete the request; it has been logged."


class TooManyRequests(SCIMException):
    """Load shedding: RFC 6585 429, which Entra retries sooner than a 5xx (it postpones those)."""

    status = 429
    _default_detail = "Too many requests; retry after the time given in Retry-After."

    def __init__(self, *, retry_after: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


class ServiceUnavailable(SCIMException):
    """An AWS service we depend on failed or timed out after its retries: 503 with Retry-After,
    nothing written (every change is one transaction)."""

    status = 503
    _default_detail = "A service this request needs is unavailable; retry after Retry-After."

    def __init__(self, *, retry_after: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


# AWS error codes that mean "too much at once": the client should slow down and retry.
_THROTTLING_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
}
# AWS error codes that mean "the service failed this time": retry later.
_UNAVAILABLE_CODES = {"InternalServerError", "InternalFailure", "ServiceUnavailable"}
_NETWORK_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def from_aws_failure(exc: Exception) -> TooManyRequests | ServiceUnavailable | None:
    """The SCIM answer to an AWS failure that outlived the client's retries: 429 for throttling
    and for transactions that kept conflicting (Entra and Okta retry a 429, where a 5xx makes
    Entra postpone the object ~40 minutes), 503 for a failing or unreachable service; both with
    Retry-After. None for anything else (a bug: a 500)."""
    if isinstance(exc, _NETWORK_ERRORS):
        return ServiceUnavailable()
    if not isinstance(exc, ClientError):
        return None
    code = exc.response.get("Error", {}).get("Code", "")
    if code in _THROTTLING_CODES:
        return TooManyRequests(retry_after=2)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
        if reasons & {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}:
            return TooManyRequests(detail="the resource is changing too often; retry")
    if (
        code in _UNAVAILABLE_CODES
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    ):
        return ServiceUnavailable()
    return None


class MethodNotAllowed(SCIMException):
    """RFC 7644 §3.12: 405 for an endpoint that does not support the method."""

    status = 405
    _default_detail = "The endpoint does not support this HTTP method."


def from_validation_error(error: ValidationError) -> SCIMException:
    """The SCIM exception that best describes a failed payload validation."""
    details = error.errors(include_url=False, include_input=False)
    for item in details:
        ctx = item.get("ctx") or {}
        if "scim_type" in ctx:
            exc = SCIMException(detail=_describe(item))
            exc.status = int(ctx.get("status", 400))
            exc.scim_type = str(ctx["scim_type"])
            return exc
    text = "; ".join(_describe(item) for item in details[:5])
    if any(item["type"] in _SYNTAX_ERROR_TYPES for item in details):
        return InvalidSyntaxException(detail=text)
    return InvalidValueException(detail=text)


def _describe(item: Any) -> str:
    location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{location}: {item['msg']}" if location else str(item["msg"])


def error_body(exc: SCIMException) -> dict[str, Any]:
    """The RFC 7644 §3.12 body: `status` is a string, `scimType` only when one applies."""
    error = Error(status=exc.status, scim_type=exc.scim_type or None, detail=exc.detail)
    return error.model_dump(exclude_none=True, by_alias=True)

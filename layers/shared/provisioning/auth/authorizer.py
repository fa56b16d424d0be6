"""The Lambda authorizer's decision: bearer token → organization.

API Gateway HTTP APIs cannot reshape their own 401/403/429 responses, so every request is let
through, carrying in its context either `authError`, or `orgId` and, when the organization is over
its request rate, `retryAfter`; the function's app answers the first with a SCIM 401 and
`WWW-Authenticate`, the last with a SCIM 429 and `Retry-After` (see http.app). The authorizer has
no identity source, so it also sees the requests without an Authorization header.
"""

from __future__ import annotations

from typing import Any

from provisioning.auth.tokens import TokenService
from provisioning.store.rates import RequestRates


def bearer_token(headers: dict[str, str] | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750; any scheme case)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def decide(event: dict[str, Any], tokens: TokenService, rates: RequestRates) -> dict[str, Any]:
    """The simple-response answer for an HTTP API Lambda authorizer (payload format 2.0). Only an
    authenticated request is counted against its organization's rate."""
    token = bearer_token(event.get("headers"))
    org_id = tokens.verify(token) if token else None
    if org_id is None:
        return {"isAuthorized": True, "context": {"authError": "invalid_token"}}
    retry_after = rates.admit(org_id)
    if retry_after is not None:
        return {"isAuthorized": True, "context": {"orgId": org_id, "retryAfter": retry_after}}
    return {"isAuthorized": True, "context": {"orgId": org_id}}

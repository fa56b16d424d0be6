"""The Lambda authorizer's decision: bearer token → organization.

API Gateway HTTP APIs cannot reshape their own 401/403 responses, so every request with an
Authorization header is let through, carrying either `orgId` or `authError` in its context; the
function's app refuses the latter with a SCIM 401 and `WWW-Authenticate` (see http.app). A request
without the header never reaches us: API Gateway answers 401 itself.
"""

from __future__ import annotations

from typing import Any

from provisioning.auth.tokens import TokenService


def bearer_token(headers: dict[str, str] | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750; any scheme case)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            token = token.strip()
            return token if scheme.lower() == "bearer" and token else None
    return None


def decide(event: dict[str, Any], tokens: TokenService) -> dict[str, Any]:
    """The simple-response answer for an HTTP API Lambda authorizer (payload format 2.0)."""
    token = bearer_token(event.get("headers"))
    org_id = tokens.verify(token) if token else None
    if org_id is None:
        return {"isAuthorized": True, "context": {"authError": "invalid_token"}}
    return {"isAuthorized": True, "context": {"orgId": org_id}}

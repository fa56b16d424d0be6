"""The one place that reads the environment: validated once per container, at cold start."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field

# Settings field → environment variable (the template's names).
_VARIABLES = {
    "table_name": "TABLE_NAME",
    "token_secret_prefix": "TOKEN_SECRET_PREFIX",
    "event_bus_name": "EVENT_BUS_NAME",
    "fanout_queue_url": "FANOUT_QUEUE_URL",
    "max_body_bytes": "MAX_BODY_BYTES",
    "token_cache_seconds": "TOKEN_CACHE_SECONDS",
    "token_grace_hours": "TOKEN_GRACE_HOURS",
    "org_requests_per_second": "ORG_REQUESTS_PER_SECOND",
}


class Settings(BaseModel):
    """Configuration every function shares; names match the template's environment variables."""

    table_name: str = Field(min_length=3)
    token_secret_prefix: str = "scim/orgs/"  # noqa: S105 - a secret *name* prefix
    # The template's MaxRequestBodyBytes: below Lambda's 6 MB invocation payload limit.
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=6_000_000)
    max_page_size: int = 200
    event_bus_name: str = ""  # only the publisher puts events
    fanout_queue_url: str = ""  # only the fan-out queues its follow-up chunks
    # The template's AuthorizerCacheSeconds: how long a warm authorizer trusts its copy of an
    # organization's token digests (so how long a revoked token may still pass).
    token_cache_seconds: int = Field(default=30, ge=0, le=3600)
    # The template's TokenGraceHours: the default life of the previous token after a rotation.
    token_grace_hours: int = Field(default=24, ge=0, le=720)
    # The template's OrgRequestsPerSecond: SCIM requests one organization may make per second.
    org_requests_per_second: int = Field(default=50, ge=1, le=10_000)


def get_settings() -> Settings:
    """The settings of the environment as it is now, validated once per distinct environment:
    once per container on Lambda, and once per function where several share a process (the
    local stack gives each function its own environment)."""
    return _validated(tuple(os.environ.get(variable) for variable in _VARIABLES.values()))


@cache
def _validated(values: tuple[str | None, ...]) -> Settings:
    given = {field: value for field, value in zip(_VARIABLES, values, strict=True) if value}
    return Settings.model_validate({"table_name": "", **given})

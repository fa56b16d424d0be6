"""The one place that reads the environment: validated once per container, at cold start."""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, Field


class Settings(BaseModel):
    """Configuration every function shares; names match the template's environment variables."""

    table_name: str = Field(min_length=3)
    token_secret_prefix: str = "scim/orgs/"  # noqa: S105 - a secret *name* prefix
    max_body_bytes: int = 1_048_576
    max_page_size: int = 200
    event_bus_name: str = ""  # only the publisher puts events
    fanout_queue_url: str = ""  # only the fan-out queues its follow-up chunks


@cache
def get_settings() -> Settings:
    """Read the settings from the environment once per container."""
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        token_secret_prefix=os.environ.get("TOKEN_SECRET_PREFIX", "scim/orgs/"),
        event_bus_name=os.environ.get("EVENT_BUS_NAME", ""),
        fanout_queue_url=os.environ.get("FANOUT_QUEUE_URL", ""),
    )

"""SCIM filters (RFC 7644 §3.4.2.2): parsed and type-checked against a resource type's schema by
scim2-models, with the limits and error mapping of this service."""

from __future__ import annotations

from typing import Any

from scim2_models import InvalidFilterException, Resource, ScimFilter

MAX_FILTER_LENGTH = 4096


def parse_filter(text: str | None, model: type[Resource[Any]]) -> ScimFilter[Any] | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail=f"filters are limited to {MAX_FILTER_LENGTH} chars")
    try:
        return ScimFilter[model](text)  # type: ignore[valid-type]
    except InvalidFilterException:
        raise
    except ValueError as error:
        raise InvalidFilterException(detail=str(error)) from error

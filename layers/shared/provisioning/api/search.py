"""List and search endpoints (RFC 7644 §3.4.2, §3.4.3): GET on a resource type's endpoint and
POST `/.search`."""

from __future__ import annotations

from typing import Any

from provisioning.api.resources import ResourceEndpoints
from provisioning.http.app import Request, Response
from provisioning.scim.query import parse_list_query
from provisioning.scim.search import ResourceSearch

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class SearchEndpoints:
    """HTTP face of a resource type's searches; resources are rendered by its endpoints."""

    def __init__(self, search: ResourceSearch, endpoints: ResourceEndpoints) -> None:
        self._search = search
        self._endpoints = endpoints

    def list(self, request: Request) -> Response:
        query = parse_list_query(request.params, self._search.kind)
        result = self._search.query(request.org_id, query)
        resources = self._endpoints.render_page(result.resources, request, query.projection)
        body: dict[str, Any] = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": result.total,
            "startIndex": query.start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
        return Response(200, body)

"""List and search endpoints (RFC 7644 §3.4.2, §3.4.3; RFC 9865): GET on a resource type's
endpoint, POST `/.search` on it, and POST `/.search` at the root over every type."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import Any

from scim2_models import Context

from provisioning.api.resources import EntryBudget, ResourceEndpoints
from provisioning.http.app import Request, Response
from provisioning.scim.cursor import CursorCodec, cursor_key
from provisioning.scim.query import ListQuery, parse_list_query, parse_search_request
from provisioning.scim.search import Found, ResourceSearch

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


class SearchEndpoints:
    """HTTP face of the searches over one or more resource types; each resource is rendered by
    its own type's endpoints (with its related attributes)."""

    def __init__(self, search: ResourceSearch, endpoints: Mapping[str, ResourceEndpoints]) -> None:
        self._search = search
        self._endpoints = endpoints

    def listing(self, request: Request) -> Response:
        query = parse_list_query(request.params, self._search.models)
        return self._answer(request, query, Context.RESOURCE_QUERY_RESPONSE)

    def search(self, request: Request) -> Response:
        query = parse_search_request(request.json(), self._search.models)
        return self._answer(request, query, Context.SEARCH_RESPONSE)

    def _answer(self, request: Request, query: ListQuery, context: Context) -> Response:
        # Cursors are signed for the caller's credential: a cursor works only for whoever
        # holds the token it was issued to (RFC 9865 §5).
        cursors = CursorCodec(cursor_key(request.org_id, request.header("authorization") or ""))
        result = self._search.query(request.org_id, query, cursors)
        body: dict[str, Any] = {"schemas": [LIST_RESPONSE_SCHEMA]}
        if result.total is not None:
            body["totalResults"] = result.total
        if query.count == 0:
            # RFC 7644 §3.4.2.4: count=0 asks for totalResults alone.
            return Response(200, body)
        resources = self._render(result.resources, request, query, context)
        next_cursor = result.next_cursor
        if len(resources) < len(result.resources):
            # The response budget ended the page early: resume after what was sent.
            next_cursor = self._search.cursor_after(
                query, result.resources[len(resources) - 1], cursors
            )
        if not query.by_cursor:
            body["startIndex"] = query.start_index
        body["itemsPerPage"] = len(resources)
        body["Resources"] = resources
        if query.by_cursor and next_cursor is not None:
            body["nextCursor"] = next_cursor
        return Response(200, body)

    def _render(
        self, found: list[Found], request: Request, query: ListQuery, context: Context
    ) -> list[dict[str, Any]]:
        """Render the page in order, each run of one type by its endpoints; stop where a run
        came back short (its response budget was spent)."""
        rendered: list[dict[str, Any]] = []
        budget = EntryBudget()  # one budget for the whole response, whatever the runs
        for kind_name, run in groupby(found, key=lambda item: item.kind.name):
            stored = [item.stored for item in run]
            endpoints = self._endpoints[kind_name]
            bodies = endpoints.render_page(stored, request, query.projection, context, budget)
            rendered += bodies
            if len(bodies) < len(stored):
                break
        return rendered

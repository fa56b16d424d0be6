"""The five SCIM operations on a resource type's endpoint (RFC 7644 §3), for any kind."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, ListResponse

from provisioning.http.app import Request, Response, Route
from provisioning.scim.query import Projection, parse_list_query
from provisioning.scim.service import ResourceService, etag, matches_etag
from provisioning.store.resources import StoredResource

LIST_RESPONSE_SCHEMA = str(ListResponse.__schema__)


class ResourceEndpoints:
    """HTTP face of a ResourceService: parses the request, calls the service, renders."""

    def __init__(self, service: ResourceService) -> None:
        self._service = service

    def routes(self) -> list[Route]:
        endpoint = self._service.kind.endpoint
        return [
            Route(endpoint, {"GET": self.query, "POST": self.create}),
            Route(
                f"{endpoint}/{{id}}",
                {"GET": self.get, "PUT": self.replace, "PATCH": self.patch, "DELETE": self.delete},
            ),
        ]

    def query(self, request: Request) -> Response:
        query = parse_list_query(request.params, self._service.kind)
        result = self._service.query(request.org_id, query)
        body = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": result.total,
            "startIndex": query.start_index,
            "itemsPerPage": len(result.resources),
            "Resources": [
                self.render(stored, request, query.projection) for stored in result.resources
            ],
        }
        return Response(200, body)

    def get(self, request: Request) -> Response:
        stored = self._service.get(request.org_id, request.path_params["id"])
        if_none_match = request.header("if-none-match")
        if if_none_match and matches_etag(if_none_match, stored.version):
            return Response(304, None, {"ETag": etag(stored.version)})
        return self._resource_response(200, stored, request)

    def create(self, request: Request) -> Response:
        stored = self._service.create(request.org_id, request.json())
        response = self._resource_response(201, stored, request)
        response.headers["Location"] = self._location(request, stored.id)
        return response

    def replace(self, request: Request) -> Response:
        stored = self._service.replace(
            request.org_id, request.path_params["id"], request.json(), request.header("if-match")
        )
        return self._resource_response(200, stored, request)

    def patch(self, request: Request) -> Response:
        stored = self._service.patch(
            request.org_id, request.path_params["id"], request.json(), request.header("if-match")
        )
        return self._resource_response(200, stored, request)

    def delete(self, request: Request) -> Response:
        self._service.delete(request.org_id, request.path_params["id"], request.header("if-match"))
        return Response(204)

    def render(
        self, stored: StoredResource, request: Request, projection: Projection
    ) -> dict[str, Any]:
        """The resource as a response shows it: server meta filled in, `returned` rules and the
        request's attributes/excludedAttributes applied (RFC 7644 §3.9)."""
        resource = self._service.model(stored)
        if resource.meta is not None:
            resource.meta.location = self._location(request, stored.id)
        return resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE,
            response_parameters=projection.parameters(),
            mode="json",
        )

    def _resource_response(self, status: int, stored: StoredResource, request: Request) -> Response:
        body = self.render(stored, request, Projection.from_params(request.params))
        return Response(status, body, {"ETag": etag(stored.version)})

    def _location(self, request: Request, resource_id: str) -> str:
        return f"{request.base_url}{self._service.kind.endpoint}/{resource_id}"

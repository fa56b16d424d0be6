"""The five SCIM operations on a resource type's endpoint (RFC 7644 §3), for any kind."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from scim2_models import Context, Resource

from provisioning.http.app import Request, Response
from provisioning.scim.query import Projection
from provisioning.scim.resources import ResourceKind
from provisioning.scim.service import etag, matches_etag
from provisioning.store.resources import StoredResource

# A list page stops early (fewer items, as RFC 7644 §3.4.2.4 allows) once its resources carry this
# many related entries (group members), keeping the response under Lambda's 6 MB payload limit.
RELATED_ENTRIES_PER_RESPONSE = 100_000


class ScimResources(Protocol):
    """What the endpoints need of a resource type's service."""

    @property
    def kind(self) -> ResourceKind: ...

    def get(self, org_id: str, resource_id: str) -> StoredResource: ...

    def model(self, stored: StoredResource) -> Resource[Any]: ...

    def create(self, org_id: str, payload: dict[str, Any]) -> StoredResource: ...

    def replace(
        self, org_id: str, resource_id: str, payload: dict[str, Any], if_match: str | None
    ) -> StoredResource: ...

    def patch(
        self, org_id: str, resource_id: str, payload: dict[str, Any], if_match: str | None
    ) -> StoredResource: ...

    def delete(self, org_id: str, resource_id: str, if_match: str | None) -> None: ...


class Related(Protocol):
    """Attributes stored apart from the resource (a group's members, a user's groups), added to a
    rendered resource unless the request leaves them out."""

    # How many resources of a page may be rendered at once (each costs its own Query).
    concurrency: int

    def render(
        self, request: Request, stored: StoredResource, projection: Projection
    ) -> dict[str, Any]: ...


class ResourceEndpoints:
    """HTTP face of a resource type's service: parses the request, calls it, renders."""

    def __init__(self, service: ScimResources, related: Related | None = None) -> None:
        self._service = service
        self._related = related

    def render_page(
        self, resources: list[StoredResource], request: Request, projection: Projection
    ) -> list[dict[str, Any]]:
        """Render a page a window of resources at a time (their related reads run concurrently),
        stopping before a resource that would take the related entries past the budget."""
        window = self._related.concurrency if self._related is not None else 1
        rendered: list[dict[str, Any]] = []
        entries = 0

        def render(stored: StoredResource) -> dict[str, Any]:
            return self.render(stored, request, projection)

        with ThreadPoolExecutor(max_workers=window) as pool:
            for start in range(0, len(resources), window):
                for body in pool.map(render, resources[start : start + window]):
                    size = sum(len(v) for v in body.values() if isinstance(v, list))
                    if rendered and entries + size > RELATED_ENTRIES_PER_RESPONSE:
                        return rendered
                    entries += size
                    rendered.append(body)
        return rendered

    def get(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.get(request.org_id, request.path_params["id"])
        if_none_match = request.header("if-none-match")
        if if_none_match and matches_etag(if_none_match, stored.version):
            return Response(304, None, {"ETag": etag(stored.version)})
        return self._resource_response(200, stored, request, projection)

    def create(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.create(request.org_id, request.json())
        response = self._resource_response(201, stored, request, projection)
        response.headers["Location"] = self._location(request, stored.id)
        return response

    def replace(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.replace(
            request.org_id, request.path_params["id"], request.json(), request.header("if-match")
        )
        return self._resource_response(200, stored, request, projection)

    def patch(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.patch(
            request.org_id, request.path_params["id"], request.json(), request.header("if-match")
        )
        return self._resource_response(200, stored, request, projection)

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
        body = resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE,
            response_parameters=projection.parameters(),
            mode="json",
        )
        if self._related is not None:
            body.update(self._related.render(request, stored, projection))
        return body

    def _resource_response(
        self, status: int, stored: StoredResource, request: Request, projection: Projection
    ) -> Response:
        body = self.render(stored, request, projection)
        return Response(status, body, {"ETag": etag(stored.version)})

    def _location(self, request: Request, resource_id: str) -> str:
        return f"{request.base_url}{self._service.kind.endpoint}/{resource_id}"

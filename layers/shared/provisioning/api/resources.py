"""The five SCIM operations on a resource type's endpoint (RFC 7644 §3), for any kind."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, Protocol

from scim2_models import Context, PreconditionFailedException, Resource

from provisioning.http.app import Request, Response
from provisioning.scim.query import Projection
from provisioning.scim.resources import ResourceKind
from provisioning.scim.service import Preconditions, Unmet, etag
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
        self,
        org_id: str,
        resource_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource: ...

    def patch(
        self,
        org_id: str,
        resource_id: str,
        payload: dict[str, Any],
        preconditions: Preconditions | None = None,
    ) -> StoredResource: ...

    def delete(
        self, org_id: str, resource_id: str, preconditions: Preconditions | None = None
    ) -> None: ...


class Related(Protocol):
    """A multi-valued attribute stored apart from the resource (a group's members, a user's
    groups), added to a rendered resource when the response returns it, and read only then."""

    # How many resources of a page may be rendered at once (each costs its own read).
    concurrency: int
    # The attribute's name in the resource type's schema.
    attribute: str
    # One entry with every sub-attribute `render` can produce (values only need to be valid):
    # the schema's `returned` rules and the request's projection are asked which ones to send.
    sample: Mapping[str, str]

    def render(
        self, request: Request, stored: StoredResource, sub_attributes: frozenset[str]
    ) -> list[dict[str, Any]]:
        """The resource's entries, each with the given sub-attributes only."""
        ...

    def for_page(self, request: Request, resources: list[StoredResource]) -> Related:
        """What renders the entries of a page of resources: it may read them for the whole page
        at once (a user's groups), or be itself (a group's members, read one group at a time)."""
        ...

    def for_created(self) -> Related:
        """What renders the entries of a resource the request has just created: nothing to read
        when none can exist yet (a user's groups), else itself (the members just written)."""
        ...


@lru_cache(maxsize=256)
def _returned_sub_attributes(
    model: type[Resource[Any]],
    attribute: str,
    sample: tuple[tuple[str, str], ...],
    projection: Projection,
    context: Context,
) -> frozenset[str]:
    """Which sub-attributes of a related attribute a response returns (none: the attribute is
    not returned), decided by scim2-models exactly as for the stored attributes: a resource
    holding one sample entry is rendered under the request's projection and context."""
    probe = model.model_validate({attribute: [dict(sample)]}, scim_ctx=Context.DEFAULT)
    dumped = probe.model_dump(
        scim_ctx=context, response_parameters=projection.parameters(), mode="json"
    )
    entries = dumped.get(attribute) or [{}]
    return frozenset(entries[0])


def _preconditions(request: Request) -> Preconditions:
    return Preconditions(request.header("if-match"), request.header("if-none-match"))


class EntryBudget:
    """The related entries one response may still carry. The first resource is always sent,
    whatever its size, so a page always makes progress."""

    def __init__(self, entries: int | None = None) -> None:
        self._left = RELATED_ENTRIES_PER_RESPONSE if entries is None else entries
        self._taken = False

    def take(self, size: int) -> bool:
        if self._taken and size > self._left:
            return False
        self._left -= size
        self._taken = True
        return True


class ResourceEndpoints:
    """HTTP face of a resource type's service: parses the request, calls it, renders."""

    def __init__(self, service: ScimResources, related: Related | None = None) -> None:
        self._service = service
        self._related = related

    def render_page(
        self,
        resources: list[StoredResource],
        request: Request,
        projection: Projection,
        context: Context = Context.RESOURCE_QUERY_RESPONSE,
        budget: EntryBudget | None = None,
    ) -> list[dict[str, Any]]:
        """Render a page a window of resources at a time (their related reads run concurrently),
        stopping before a resource that would take the related entries past the response's
        budget (shared by every call that renders into one response)."""
        window = self._related.concurrency if self._related is not None else 1
        budget = budget if budget is not None else EntryBudget()
        rendered: list[dict[str, Any]] = []
        related = self._related
        if related is not None and self._returned(related, projection, context):
            related = related.for_page(request, resources)

        def render(stored: StoredResource) -> dict[str, Any]:
            return self.render(stored, request, projection, context, related)

        with ThreadPoolExecutor(max_workers=window) as pool:
            for start in range(0, len(resources), window):
                for body in pool.map(render, resources[start : start + window]):
                    if not budget.take(sum(len(v) for v in body.values() if isinstance(v, list))):
                        return rendered
                    rendered.append(body)
        return rendered

    def get(self, request: Request) -> Response:
        """GET (RFC 7644 §3.4.1) with its preconditions (RFC 7232 §6: If-Match first, 412; then
        If-None-Match, 304 with the ETag and no body, RFC 7644 §3.14)."""
        projection = Projection.from_params(request.params)
        stored = self._service.get(request.org_id, request.path_params["id"])
        unmet = _preconditions(request).unmet(stored.version)
        if unmet is Unmet.IF_NONE_MATCH:
            return Response(304, None, {"ETag": etag(stored.version)})
        if unmet is Unmet.IF_MATCH:
            raise PreconditionFailedException(
                detail=f"If-Match does not hold for the current version {etag(stored.version)}"
            )
        return self._resource_response(
            200, stored, request, projection, Context.RESOURCE_QUERY_RESPONSE
        )

    def create(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.create(request.org_id, request.json())
        # A read after the commit that failed would answer "retry" for a write that happened
        # (and the retry would get 409): a creation reads only what it cannot know.
        related = self._related.for_created() if self._related is not None else None
        response = self._resource_response(
            201, stored, request, projection, Context.RESOURCE_CREATION_RESPONSE, related
        )
        response.headers["Location"] = self._location(request, stored.id)
        return response

    def replace(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.replace(
            request.org_id, request.path_params["id"], request.json(), _preconditions(request)
        )
        return self._resource_response(
            200, stored, request, projection, Context.RESOURCE_REPLACEMENT_RESPONSE
        )

    def patch(self, request: Request) -> Response:
        projection = Projection.from_params(request.params)
        stored = self._service.patch(
            request.org_id, request.path_params["id"], request.json(), _preconditions(request)
        )
        return self._resource_response(
            200, stored, request, projection, Context.RESOURCE_PATCH_RESPONSE
        )

    def delete(self, request: Request) -> Response:
        self._service.delete(request.org_id, request.path_params["id"], _preconditions(request))
        return Response(204)

    def render(
        self,
        stored: StoredResource,
        request: Request,
        projection: Projection,
        context: Context = Context.RESOURCE_QUERY_RESPONSE,
        related: Related | None = None,
    ) -> dict[str, Any]:
        """The resource as a response of the given context shows it: server meta filled in
        (`meta.version` is its ETag), the schema's `returned` rules and the request's
        attributes/excludedAttributes applied (RFC 7644 §3.9, RFC 7643 §7), to the related
        attribute as well (rendered by `related`, a page's, when given), which is not read at
        all when the response leaves it out."""
        resource = self._service.model(stored)
        if resource.meta is not None:
            resource.meta.location = self._location(request, stored.id)
        body = resource.model_dump(
            scim_ctx=context, response_parameters=projection.parameters(), mode="json"
        )
        related = related or self._related
        if related is not None:
            wanted = self._returned(related, projection, context)
            entries = related.render(request, stored, wanted) if wanted else []
            if entries:
                body[related.attribute] = entries
        return body

    def _returned(
        self, related: Related, projection: Projection, context: Context
    ) -> frozenset[str]:
        return _returned_sub_attributes(
            self._service.kind.model,
            related.attribute,
            tuple(sorted(related.sample.items())),
            projection,
            context,
        )

    def _resource_response(
        self,
        status: int,
        stored: StoredResource,
        request: Request,
        projection: Projection,
        context: Context,
        related: Related | None = None,
    ) -> Response:
        body = self.render(stored, request, projection, context, related)
        return Response(status, body, {"ETag": etag(stored.version)})

    def _location(self, request: Request, resource_id: str) -> str:
        return f"{request.base_url}{self._service.kind.endpoint}/{resource_id}"

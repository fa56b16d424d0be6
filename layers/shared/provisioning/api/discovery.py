"""The discovery function's app (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas,
rendered from the same models the server validates with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scim2_models import Context, ForbiddenException, ListResponse, NotFoundException, Resource

from provisioning.http.app import Request, Response, Route, ScimApp
from provisioning.scim.resources import PROVIDER, SERVICE_PROVIDER_CONFIG
from provisioning.settings import Settings, get_settings

Endpoint = Callable[[Request], Response]


def _render(resource: Resource[Any], location: str, resource_type: str) -> dict[str, Any]:
    body = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE, mode="json")
    body["meta"] = {"resourceType": resource_type, "location": location}
    return body


def _listing(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        # Not api.search's constant: that module brings the search and the store, ~20 ms of a
        # cold start this function has no use for.
        "schemas": [str(ListResponse.__schema__)],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _no_filter(endpoint: Endpoint) -> Endpoint:
    """RFC 7644 §4: discovery ignores query parameters, but a `filter` SHOULD get a 403, so that
    a client cannot take the whole list for the resources matching its filter."""

    def checked(request: Request) -> Response:
        if any(name.casefold() == "filter" for name in request.params):
            raise ForbiddenException(detail="discovery endpoints are not filtered (RFC 7644 §4)")
        return endpoint(request)

    return checked


@_no_filter
def service_provider_config(request: Request) -> Response:
    location = f"{request.base_url}/ServiceProviderConfig"
    return Response(200, _render(SERVICE_PROVIDER_CONFIG, location, "ServiceProviderConfig"))


def _schemas(request: Request) -> dict[str, dict[str, Any]]:
    return {
        str(schema.id): _render(schema, f"{request.base_url}/Schemas/{schema.id}", "Schema")
        for schema in PROVIDER.schemas
    }


def _resource_types(request: Request) -> dict[str, dict[str, Any]]:
    return {
        str(rt.id): _render(rt, f"{request.base_url}/ResourceTypes/{rt.id}", "ResourceType")
        for rt in PROVIDER.resource_types
    }


@_no_filter
def list_schemas(request: Request) -> Response:
    return Response(200, _listing(list(_schemas(request).values())))


@_no_filter
def get_schema(request: Request) -> Response:
    return Response(200, _one(_schemas(request), request.path_params["id"], "schema"))


@_no_filter
def list_resource_types(request: Request) -> Response:
    return Response(200, _listing(list(_resource_types(request).values())))


@_no_filter
def get_resource_type(request: Request) -> Response:
    return Response(200, _one(_resource_types(request), request.path_params["id"], "resource type"))


def _one(items: dict[str, dict[str, Any]], key: str, what: str) -> dict[str, Any]:
    """The item whose whole id is `key`, in any case: RFC 7643 §8.7.2 declares the `id` of a
    Schema and of a ResourceType `caseExact: false`. Anything else is a 404 SCIM error."""
    for name, item in items.items():
        if name.casefold() == key.casefold():
            return item
    raise NotFoundException(detail=f"no {what} {key}")


def discovery_app(settings: Settings | None = None) -> ScimApp:
    settings = settings or get_settings()
    routes = [
        Route("/ServiceProviderConfig", {"GET": service_provider_config}),
        Route("/Schemas", {"GET": list_schemas}),
        Route("/Schemas/{id}", {"GET": get_schema}),
        Route("/ResourceTypes", {"GET": list_resource_types}),
        Route("/ResourceTypes/{id}", {"GET": get_resource_type}),
    ]
    return ScimApp(routes, settings.max_body_bytes)

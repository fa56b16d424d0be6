"""The app of a resource type's function: its endpoints and searches on one DynamoDB client."""

from __future__ import annotations

from collections.abc import Callable

from provisioning import clients
from provisioning.api.resources import Related, ResourceEndpoints, ScimResources
from provisioning.api.search import SearchEndpoints
from provisioning.http.app import Route, ScimApp
from provisioning.scim.search import ResourceSearch
from provisioning.settings import Settings, get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore


def resource_app(
    settings: Settings | None,
    build: Callable[[ResourceStore, MembershipStore, str], tuple[ScimResources, Related]],
) -> ScimApp:
    """The ASGI app of a resource type's function: its service and related attributes built on
    the container's DynamoDB client."""
    settings = settings or get_settings()
    client = clients.dynamodb()
    resources = ResourceStore(client, settings.table_name)
    service, related = build(
        resources, MembershipStore(client, settings.table_name), settings.table_name
    )
    endpoints = ResourceEndpoints(service, related)
    search = SearchEndpoints(ResourceSearch(resources, service.kind), endpoints)
    path = service.kind.endpoint
    routes = [
        Route(path, {"GET": search.list, "POST": endpoints.create}),
        Route(
            f"{path}/{{id}}",
            {
                "GET": endpoints.get,
                "PUT": endpoints.replace,
                "PATCH": endpoints.patch,
                "DELETE": endpoints.delete,
            },
        ),
    ]
    return ScimApp(routes, settings.max_body_bytes)

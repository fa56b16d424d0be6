"""The app of a resource type's function: its endpoints and searches on one DynamoDB client."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from provisioning import clients
from provisioning.api.resources import Related, ResourceEndpoints, ScimResources
from provisioning.api.search import SearchEndpoints
from provisioning.http.app import Route, ScimApp
from provisioning.scim.resources import ResourceKind
from provisioning.scim.search import ResourceSearch
from provisioning.settings import Settings, get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore

# A resource type's service and the attributes it keeps apart, on the function's stores.
Build = Callable[[ResourceStore, MembershipStore, str], tuple[ScimResources, Related]]


def resource_app(
    settings: Settings | None, build: Build, root_search: Sequence[Build] = ()
) -> ScimApp:
    """The ASGI app of a resource type's function: `/<Type>`, `/<Type>/.search`, `/<Type>/{id}`,
    and the root `/.search` over the types of `root_search` when given."""
    settings = settings or get_settings()
    client = clients.dynamodb()
    resources = ResourceStore(client, settings.table_name)
    memberships = MembershipStore(client, settings.table_name)

    def endpoints_of(each: Build) -> tuple[ResourceKind, ResourceEndpoints]:
        service, related = each(resources, memberships, settings.table_name)
        return service.kind, ResourceEndpoints(service, related)

    kind, own = endpoints_of(build)
    search = SearchEndpoints(ResourceSearch(resources, memberships, [kind]), {kind.name: own})
    routes = [
        Route(kind.endpoint, {"GET": search.listing, "POST": own.create}),
        # Before `/{id}`, which would otherwise take `.search` for an id.
        Route(f"{kind.endpoint}/.search", {"POST": search.search}),
        Route(
            f"{kind.endpoint}/{{id}}",
            {"GET": own.get, "PUT": own.replace, "PATCH": own.patch, "DELETE": own.delete},
        ),
    ]
    if root_search:
        covered = [endpoints_of(each) for each in root_search]
        root = SearchEndpoints(
            ResourceSearch(resources, memberships, [kind for kind, _ in covered]),
            {kind.name: endpoints for kind, endpoints in covered},
        )
        routes.append(Route("/.search", {"POST": root.search}))
    return ScimApp(routes, settings.max_body_bytes)

"""The users function's app: `/Users` and `/Users/{id}`."""

from __future__ import annotations

from provisioning import clients
from provisioning.api.resources import ResourceEndpoints
from provisioning.http.app import ScimApp
from provisioning.scim.resources import USER
from provisioning.scim.service import ResourceService
from provisioning.settings import Settings, get_settings
from provisioning.store.resources import ResourceStore


def users_app(settings: Settings | None = None, store: ResourceStore | None = None) -> ScimApp:
    settings = settings or get_settings()
    store = store or ResourceStore(clients.dynamodb(), settings.table_name)
    return ScimApp(
        ResourceEndpoints(ResourceService(store, USER)).routes(), settings.max_body_bytes
    )

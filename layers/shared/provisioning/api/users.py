"""The users function's app: `/Users` and `/Users/{id}`, with each user's direct groups."""

from __future__ import annotations

from typing import Any

from provisioning import clients
from provisioning.api.resources import ResourceEndpoints
from provisioning.http.app import Request, ScimApp
from provisioning.scim.query import Projection
from provisioning.scim.users import UserService
from provisioning.settings import Settings, get_settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore, StoredResource


class UserGroups:
    """The readOnly `groups` attribute (RFC 7643 §4.1.2): the user's direct groups."""

    concurrency = 8

    def __init__(self, users: UserService) -> None:
        self._users = users

    def render(
        self, request: Request, stored: StoredResource, projection: Projection
    ) -> dict[str, Any]:
        if projection.excludes("groups"):
            return {}
        groups = self._users.groups(request.org_id, stored.id)
        if not groups:
            return {}
        return {
            "groups": [
                {
                    "value": group.id,
                    "$ref": f"{request.base_url}/Groups/{group.id}",
                    "display": group.body.get("displayName"),
                    "type": "direct",
                }
                for group in groups
            ]
        }


def users_app(settings: Settings | None = None) -> ScimApp:
    settings = settings or get_settings()
    client = clients.dynamodb()
    users = UserService(
        ResourceStore(client, settings.table_name),
        MembershipStore(client, settings.table_name),
        settings.table_name,
    )
    endpoints = ResourceEndpoints(users, UserGroups(users))
    return ScimApp(endpoints.routes(), settings.max_body_bytes)

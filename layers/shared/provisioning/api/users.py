"""The users function's app: `/Users` and `/Users/{id}`, with each user's direct groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioning.api.groups import build_groups
from provisioning.api.routes import resource_app
from provisioning.http.app import Request, ScimApp
from provisioning.scim.users import UserService
from provisioning.settings import Settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore, StoredResource


class UserGroups:
    """The readOnly `groups` attribute (RFC 7643 §4.1.2): the user's direct groups."""

    concurrency = 8
    attribute = "groups"
    sample: Mapping[str, str] = {
        "value": "id",
        "$ref": "https://example.com/Groups/id",
        "display": "name",
        "type": "direct",
    }

    def __init__(self, users: UserService) -> None:
        self._users = users

    def render(
        self, request: Request, stored: StoredResource, sub_attributes: frozenset[str]
    ) -> list[dict[str, Any]]:
        return _entries(request, self._users.groups(request.org_id, stored.id), sub_attributes)

    def for_page(self, request: Request, resources: list[StoredResource]) -> PageGroups:
        ids = [stored.id for stored in resources]
        return PageGroups(self._users.groups_of_users(request.org_id, ids, self.concurrency))

    def for_created(self) -> PageGroups:
        # A membership names an existing user: one created by this request is in no group.
        return PageGroups({})


class PageGroups(UserGroups):
    """The groups of a page of users, read together: each user's memberships (one Query each,
    `concurrency` at a time) and the groups they name, once for the page."""

    def __init__(self, groups: Mapping[str, list[StoredResource]]) -> None:
        self._groups = groups

    def render(
        self, request: Request, stored: StoredResource, sub_attributes: frozenset[str]
    ) -> list[dict[str, Any]]:
        return _entries(request, self._groups.get(stored.id, []), sub_attributes)

    def for_page(self, _request: Request, _resources: list[StoredResource]) -> PageGroups:
        return self  # already the page's


def _entries(
    request: Request, groups: list[StoredResource], sub_attributes: frozenset[str]
) -> list[dict[str, Any]]:
    entries = (
        {
            "value": group.id,
            "$ref": f"{request.base_url}/Groups/{group.id}",
            "display": group.body.get("displayName"),
            "type": "direct",
        }
        for group in groups
    )
    return [
        {k: v for k, v in entry.items() if k in sub_attributes and v is not None}
        for entry in entries
    ]


def build_users(
    resources: ResourceStore, memberships: MembershipStore, table: str
) -> tuple[UserService, UserGroups]:
    users = UserService(resources, memberships, table)
    return users, UserGroups(users)


def users_app(settings: Settings | None = None) -> ScimApp:
    """The users function also answers the root `/.search` (RFC 7644 §3.4.3) over users and
    groups: it has the table's read access, and a search is a read."""
    return resource_app(settings, build_users, root_search=(build_users, build_groups))

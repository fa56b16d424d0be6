"""The groups function's app: `/Groups` and `/Groups/{id}`, with members."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provisioning.api.routes import resource_app
from provisioning.http.app import Request, ScimApp
from provisioning.scim.groups import GroupService
from provisioning.settings import Settings
from provisioning.store.memberships import MembershipStore
from provisioning.store.resources import ResourceStore, StoredResource


class GroupMembers:
    """`members`, read page by page from the membership items. Only `value` is sent: with
    `$ref` and `type`, 100,000 members would not fit Lambda's 6 MB response."""

    concurrency = 1  # a group may have 100,000 members: one at a time, within the page budget
    attribute = "members"
    sample: Mapping[str, str] = {"value": "id"}

    def __init__(self, groups: GroupService) -> None:
        self._groups = groups

    def render(
        self, request: Request, stored: StoredResource, sub_attributes: frozenset[str]
    ) -> list[dict[str, Any]]:
        # Entra sends excludedAttributes=members on every group query: then this is not called.
        if "value" not in sub_attributes:
            return []
        return [{"value": member} for member in self._groups.member_ids(request.org_id, stored.id)]

    def for_page(self, _request: Request, _resources: list[StoredResource]) -> GroupMembers:
        # Each group's members are Queries of their own, read within the response's budget.
        return self

    def for_created(self) -> GroupMembers:
        return self  # the members the creation wrote, read back


def build_groups(
    resources: ResourceStore, memberships: MembershipStore, table: str
) -> tuple[GroupService, GroupMembers]:
    groups = GroupService(resources, memberships, table)
    return groups, GroupMembers(groups)


def groups_app(settings: Settings | None = None) -> ScimApp:
    return resource_app(settings, build_groups)

"""One organization's token never reaches another organization's directory, on any SCIM route.

The cases are generated from template.yaml's routes, so a route added there is attacked here too;
a route this module cannot classify fails `test_every_scim_route_is_classified`. Every hostile
request is made with organization A's valid token and organization B's ids and values; each must
answer as if B's resources did not exist (404, or an empty result), and the table must be
byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from provisioning.local.template import DEFAULT_ROUTE
from tests.conftest import ERROR_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, directory_items
from tests.template.conftest import load_template

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
DISCOVERY = ("ServiceProviderConfig", "Schemas", "ResourceTypes")
RESOURCE_TYPES = ("Users", "Groups")


def _scim_routes() -> list[str]:
    paths = set()
    for resource in load_template()["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            path = (event.get("Properties") or {}).get("Path", DEFAULT_ROUTE)
            if event["Type"] == "HttpApi" and path.startswith("/scim/v2/"):
                paths.add(path.removeprefix("/scim/v2"))
    return sorted(paths)


def classify(route: str) -> str:
    """What a route serves: one resource by id, a collection, a search, or discovery."""
    parts = route.strip("/").split("/")
    if parts[0] in DISCOVERY:
        return "discovery"
    if parts == [".search"] or (parts[0] in RESOURCE_TYPES and parts[1:] == [".search"]):
        return "search"
    if parts[0] in RESOURCE_TYPES and len(parts) == 1:
        return "collection"
    if parts[0] in RESOURCE_TYPES and len(parts) == 2 and re.fullmatch(r"\{\w+\}", parts[1]):
        return "by-id"
    return "unclassified"


SCIM_ROUTES = _scim_routes()


def test_every_scim_route_is_classified() -> None:
    assert SCIM_ROUTES, "no SCIM route read from the template"
    assert {
        route: classify(route) for route in SCIM_ROUTES if classify(route) == "unclassified"
    } == {}


@pytest.fixture
def victim(contoso, fabrikam) -> dict[str, Any]:
    """Organization B (fabrikam): a user in a group. Returns the ids and values A will try."""
    user = fabrikam.create_user(
        "victim@fabrikam.example",
        externalId="victim-external",
        emails=[{"value": "victim@fabrikam.example", "type": "work", "primary": True}],
    )
    group = fabrikam.post(
        "/Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Fabrikam Admins",
            "externalId": "group-external",
            "members": [{"value": user["id"]}],
        },
    )
    assert group.status == 201, group.body
    contoso.stack.drain()
    return {"Users": user, "Groups": group.json()}


def hostile_filters(victim: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(resource type, filter) pairs naming B's resources by every indexed attribute."""
    user, group = victim["Users"], victim["Groups"]
    yield "Users", f'id eq "{user["id"]}"'
    yield "Users", 'userName eq "victim@fabrikam.example"'
    yield "Users", 'externalId eq "victim-external"'
    yield "Users", 'emails.value eq "victim@fabrikam.example"'
    yield "Users", 'emails[type eq "work" and value eq "victim@fabrikam.example"]'
    yield "Users", 'userName sw "victim"'
    yield "Groups", f'id eq "{group["id"]}"'
    yield "Groups", 'displayName eq "Fabrikam Admins"'
    yield "Groups", 'externalId eq "group-external"'
    yield "Groups", f'members eq "{user["id"]}"'
    yield "Groups", f'id eq "{group["id"]}" and members eq "{user["id"]}"'


def write_body(resource_type: str, resource: dict[str, Any], method: str) -> Any:
    if method == "PATCH":
        value = {"active": False} if resource_type == "Users" else {"displayName": "taken"}
        return {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "value": value}]}
    if resource_type == "Users":
        return {"schemas": [USER_SCHEMA], "userName": resource["userName"], "active": False}
    return {"schemas": [GROUP_SCHEMA], "displayName": "taken", "members": []}


def assert_not_found(response: Any) -> None:
    assert response.status == 404, response.body
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA]
    # The answer names nothing of B beyond the id the caller sent.
    assert "fabrikam" not in response.body.decode().lower()


def test_a_token_never_reaches_another_organizations_resources(contoso, victim) -> None:
    before = directory_items()
    checked = 0
    for route in SCIM_ROUTES:
        kind = classify(route)
        resource_type = route.strip("/").split("/")[0]
        if kind == "by-id":
            resource = victim[resource_type]
            path = re.sub(r"\{\w+\}", resource["id"], route)
            for method in ("GET", "PUT", "PATCH", "DELETE"):
                body = (
                    None
                    if method in {"GET", "DELETE"}
                    else write_body(resource_type, resource, method)
                )
                assert_not_found(contoso.request(method, path, body))
                checked += 1
        elif kind == "collection":
            for target, expression in hostile_filters(victim):
                if target == resource_type:
                    listed = contoso.get(f"{route}?filter={expression}").json()
                    assert listed["totalResults"] == 0, (route, expression)
                    checked += 1
            assert contoso.get(route).json()["totalResults"] == 0
        elif kind == "search":
            for target, expression in hostile_filters(victim):
                if resource_type in {target, ".search"}:
                    found = contoso.post(
                        route, {"schemas": [SEARCH_SCHEMA], "filter": expression}
                    ).json()
                    assert found["totalResults"] == 0, (route, expression)
                    checked += 1
        elif kind == "discovery":
            # Shared by every organization: the same answer whoever asks, nothing of B's.
            path = re.sub(r"\{\w+\}", "User", route)
            response = contoso.get(path)
            assert "fabrikam" not in response.body.decode().lower(), route
            checked += 1
    contoso.stack.drain()
    assert checked >= 30
    assert directory_items() == before, "a request of A changed the table"


def test_a_token_cannot_add_another_organizations_user_to_its_own_group(contoso, victim) -> None:
    """An id of B's user, sent as a member of A's group, is not a user of A."""
    group = contoso.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Contoso"}).json()
    before = directory_items()
    response = contoso.patch(
        f"/Groups/{group['id']}",
        [{"op": "add", "path": "members", "value": [{"value": victim["Users"]["id"]}]}],
    )
    assert response.status == 400, response.body
    assert response.json()["schemas"] == [ERROR_SCHEMA]
    contoso.stack.drain()
    assert directory_items() == before
    assert (
        contoso.get(f'/Groups?filter=members eq "{victim["Users"]["id"]}"').json()["totalResults"]
        == 0
    )

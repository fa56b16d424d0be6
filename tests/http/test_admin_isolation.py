"""The admin API, addressed for organization A with organization B's ids, never reads or changes
anything of B's. The cases come from the admin app's own route table, so a route added there is
attacked here too; a path parameter this module cannot fill fails the test."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import ScimClient, admin_call, directory_items

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# Routes whose only parameter is the organization: A's own data, nothing of B's to name.
BODIES = {"PUT": {"level": "editor"}, "PATCH": {"name": "Renamed"}, "POST": {"name": "New"}}


def admin_routes() -> list[tuple[str, str]]:
    """(method, template) of every admin route under one organization. Imported once the admin
    function has loaded it (the local stack runs functions in this process), so its loggers
    belong to that function's service."""
    from provisioning.api.admin import AdminEndpoints

    endpoints = AdminEndpoints.__new__(AdminEndpoints)  # only the route table is read
    return [
        (method, route.template)
        for route in AdminEndpoints._routes(endpoints)
        for method in route.endpoints
        if "{org}" in route.template and re.search(r"\{(?!org\})", route.template)
    ]


def organization(stack: Any, org_id: str) -> ScimClient:
    status, created = admin_call(stack, "POST", "/orgs", {"id": org_id, "name": org_id})
    assert status == 201, created
    return ScimClient(stack, created["token"])


def fillings(victim: dict[str, str], template: str) -> list[str]:
    """Concrete paths for `template` under organization A, every other parameter one of B's."""
    path = template.replace("{org}", "acme")
    if "{type}" in path:
        return [
            path.replace("{type}/{id}", f"workspace/{victim['workspace']}"),
            path.replace("{type}/{id}", f"folder/{victim['folder']}"),
        ]
    target = "workspace" if "/workspaces/{id}" in path else "folder"
    path = path.replace("{id}", victim[target])
    for name in ("workspace", "folder", "group", "user"):
        path = path.replace(f"{{{name}}}", victim[name])
    assert "{" not in path, f"cannot fill {template}"
    return [path]


def test_organization_a_never_reaches_organization_bs_items(stack) -> None:
    organization(stack, "acme")
    globex = organization(stack, "globex")
    user = globex.create_user("victim@globex.example")
    group = globex.post(
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": user["id"]}]},
    ).json()
    status, workspace = admin_call(stack, "POST", "/orgs/globex/workspaces", {"name": "Secret"})
    assert status == 201, workspace
    status, folder = admin_call(
        stack, "POST", f"/orgs/globex/workspaces/{workspace['id']}/folders", {"name": "Plans"}
    )
    assert status == 201, folder
    admin_call(
        stack,
        "PUT",
        f"/orgs/globex/groups/{group['id']}/grants/workspace/{workspace['id']}",
        {"level": "editor"},
    )
    stack.drain()
    victim = {
        "user": user["id"],
        "group": group["id"],
        "workspace": workspace["id"],
        "folder": folder["id"],
    }
    before = directory_items()
    checked = 0
    for method, template in admin_routes():
        for path in fillings(victim, template):
            status, answer = admin_call(stack, method, path, BODIES.get(method))
            assert status == 404 or (status == 200 and not _names_anything(answer)), (
                method,
                path,
                status,
                answer,
            )
            checked += 1
    stack.drain()
    assert checked >= 15
    assert directory_items() == before, "a request for A changed B's items"


def _names_anything(answer: Any) -> bool:
    """Whether a 200 answer lists something (an empty listing of A's is fine)."""
    if isinstance(answer, dict):
        return any(isinstance(v, list) and v for v in answer.values())
    return bool(answer)

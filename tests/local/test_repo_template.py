"""The repository's own template.yaml: every route it declares is served by the local stack."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provisioning import clients
from provisioning.local import LocalStack
from provisioning.local.template import DEFAULT_ROUTE, IAM_AUTHORIZER, SamTemplate
from provisioning.settings import get_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"


def concrete_path(template_path: str) -> str:
    """A request path that only this route template matches best: `{id}` → `x`."""
    return re.sub(r"\{[^}/]+\+\}", "x/y", re.sub(r"\{[^}/+]+\}", "x", template_path))


@pytest.fixture
def repo_stack() -> Iterator[LocalStack]:
    if not TEMPLATE.exists():
        pytest.skip("template.yaml is not written yet")
    with LocalStack.start(REPO_ROOT) as stack:
        yield stack


def test_every_declared_route_is_served(repo_stack: LocalStack) -> None:
    api = repo_stack.gateway.api
    assert api.routes, "the template declares no HTTP API route"
    for route in api.routes:
        if route.path == DEFAULT_ROUTE:
            continue
        method = "GET" if route.method == "ANY" else route.method
        path = concrete_path(route.path)
        matched = repo_stack.gateway.router.match(method, path)
        assert matched is not None, route.key
        assert matched[0] == route, f"{method} {path} went to {matched[0].key}, not {route.key}"
        function = repo_stack.runtime.functions[route.function]
        assert (function.code_dir / "app.py").is_file(), function.code_dir
        if route.authorizer == IAM_AUTHORIZER:
            # Open locally: the request reaches the function as the local IAM user.
            response = repo_stack.request(method, path)
            assert response.json() != {"message": "Not Found"}, route.key
        elif route.authorizer is not None:
            # Routed and guarded: the gateway answers 401 itself, it is not its 404.
            assert repo_stack.request(method, path).status == 401, route.key


def test_every_authorizer_function_exists(repo_stack: LocalStack) -> None:
    for authorizer in repo_stack.gateway.api.authorizers.values():
        function = repo_stack.runtime.functions[authorizer.function]
        module = function.handler.rpartition(".")[0].replace(".", "/") + ".py"
        assert (function.code_dir / module).is_file()


def test_an_organization_token_passes_the_real_authorizer(repo_stack: LocalStack) -> None:
    token = repo_stack.create_organization("acme")
    response = repo_stack.request(
        "GET",
        "/scim/v2/ServiceProviderConfig",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 200, response.body


def test_template_parses_with_short_tags() -> None:
    if not TEMPLATE.exists():
        pytest.skip("template.yaml is not written yet")
    template = SamTemplate.load(TEMPLATE)
    assert template.tables(), "the template declares no table"
    assert template.functions(), "the template declares no function"


def test_every_event_source_of_the_template_is_polled(repo_stack: LocalStack) -> None:
    template = repo_stack.template
    specs = [*template.stream_events(), *template.queue_events()]
    declared = {spec.name for spec in specs if spec.enabled}
    assert {source.name for source in repo_stack.event_sources.sources} == declared
    # Nothing was written yet: whatever the template declares, a drain finds nothing to do.
    assert repo_stack.drain() == 0
    assert repo_stack.failed_batches == []


# `LocalStack.skip_pending`: records written before it trigger nothing; later ones do.


def purge_task(org: str, group: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"TASK#{org}"},
        "sk": {"S": f"PURGE#Group#{group}#000000"},
        "kind": {"S": "PurgeTask"},
        "orgId": {"S": org},
        "target": {"S": "Group"},
        "targetId": {"S": group},
        "round": {"N": "0"},
    }


def tasks(org: str) -> list[dict[str, Any]]:
    return clients.dynamodb().query(
        TableName=get_settings().table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TASK#{org}"}},
    )["Items"]


def test_records_written_before_skip_pending_are_not_delivered(repo_stack: LocalStack) -> None:
    stack = repo_stack
    table = get_settings().table_name
    clients.dynamodb().put_item(TableName=table, Item=purge_task("acme", "before"))
    stack.skip_pending()
    assert stack.drain() == 0
    assert len(tasks("acme")) == 1  # the purge worker never saw it

    clients.dynamodb().put_item(TableName=table, Item=purge_task("acme", "after"))
    assert stack.drain() >= 1
    assert [t["targetId"]["S"] for t in tasks("acme")] == ["before"]

"""Rendering a resource for a response (pure: fake services, no storage).

Each operation renders in its own response context (RFC 7644 §3.3, §3.4.1, §3.5.1, §3.5.2), and
the `returned` characteristic (RFC 7643 §7) governs stored and related attributes alike. No
attribute of the served schemas is returned "request", so a schema with one is made here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any

import pytest
from scim2_models import ComplexAttribute, Context, Resource, Returned

from provisioning.api.resources import ResourceEndpoints
from provisioning.http.app import Request
from provisioning.scim.query import Projection
from provisioning.scim.resources import USER, ResourceKind
from provisioning.scim.service import resource_model
from provisioning.store.resources import StoredResource

BASE = "https://scim.example/scim/v2"


class Watcher(ComplexAttribute):
    value: str | None = None
    display: str | None = None


class Ticket(Resource[Any]):
    """A resource type with an attribute of each `returned` kind, one of them kept apart."""

    __schema__ = "urn:example:scim:schemas:core:2.0:Ticket"  # type: ignore[assignment]

    title: str | None = None
    hint: Annotated[str | None, Returned.request] = None
    secret: Annotated[str | None, Returned.never] = None
    watchers: Annotated[list[Watcher] | None, Returned.request] = None


TICKET = ResourceKind(name="Ticket", endpoint="/Tickets", model=Ticket, unique=())


@dataclass
class Service:
    """A resource type's service holding one stored resource; records what it was asked."""

    kind: ResourceKind
    stored: StoredResource
    calls: list[str] = field(default_factory=list)

    def get(self, org_id: str, resource_id: str) -> StoredResource:
        return self.stored

    def model(self, stored: StoredResource) -> Resource[Any]:
        return resource_model(self.kind, stored)

    def create(self, org_id: str, payload: dict[str, Any]) -> StoredResource:
        return self.stored

    def replace(self, *args: Any) -> StoredResource:
        return self.stored

    def patch(self, *args: Any) -> StoredResource:
        return self.stored

    def delete(self, *args: Any) -> None:
        return None


@dataclass
class Watchers:
    """The related `watchers`, counting its reads."""

    concurrency: int = 1
    attribute: str = "watchers"
    sample: dict[str, str] = field(default_factory=lambda: {"value": "v", "display": "d"})
    reads: int = 0

    def render(
        self, request: Request, stored: StoredResource, sub_attributes: frozenset[str]
    ) -> list[dict[str, Any]]:
        self.reads += 1
        entry = {"value": "w1", "display": "Watcher"}
        return [{k: v for k, v in entry.items() if k in sub_attributes}]


def request(query: dict[str, str] | None = None, body: Any = None) -> Request:
    return Request(
        method="GET",
        path="/scim/v2/Tickets/t1",
        org_id="org",
        base_url=BASE,
        params=query or {},
        body=json.dumps(body or {}).encode(),
        path_params={"id": "t1"},
    )


def ticket_endpoints() -> tuple[ResourceEndpoints, Watchers, StoredResource]:
    body = {
        "schemas": [Ticket.__schema__],
        "id": "t1",
        "title": "Broken",
        "hint": "look left",
        "secret": "s3cret",
        "meta": {"resourceType": "Ticket"},
    }
    watchers = Watchers()
    stored = StoredResource("t1", 3, body)
    return ResourceEndpoints(Service(TICKET, stored), watchers), watchers, stored


def render(query: dict[str, str]) -> tuple[dict[str, Any], int]:
    endpoints, watchers, stored = ticket_endpoints()
    rendered = endpoints.render(stored, request(query), Projection.from_params(query))
    return rendered, watchers.reads


def test_request_attributes_are_left_out_by_default_and_not_read():
    body, reads = render({})
    assert body["title"] == "Broken"
    assert body["meta"]["version"] == 'W/"3"'
    assert not {"hint", "secret", "watchers"} & set(body)
    assert reads == 0


def test_request_attributes_are_returned_when_named():
    body, reads = render({"attributes": "hint,watchers.value"})
    assert body == {
        "schemas": [Ticket.__schema__],
        "id": "t1",
        "hint": "look left",
        "watchers": [{"value": "w1"}],
    }
    assert reads == 1


def test_never_is_never_returned():
    body, _ = render({"attributes": "secret"})
    assert body == {"schemas": [Ticket.__schema__], "id": "t1"}


def test_excluding_a_default_attribute_does_not_bring_request_ones():
    body, reads = render({"excludedAttributes": "title"})
    assert not {"title", "hint", "watchers"} & set(body)
    assert reads == 0


class Recorded:
    """A rendered resource that records the context it is dumped in."""

    meta = None

    def __init__(self, contexts: list[Context]) -> None:
        self._contexts = contexts

    def model_dump(self, *, scim_ctx: Context, **_: Any) -> dict[str, Any]:
        self._contexts.append(scim_ctx)
        return {}


@pytest.mark.parametrize(
    ("operation", "context"),
    [
        ("create", Context.RESOURCE_CREATION_RESPONSE),
        ("get", Context.RESOURCE_QUERY_RESPONSE),
        ("replace", Context.RESOURCE_REPLACEMENT_RESPONSE),
        ("patch", Context.RESOURCE_PATCH_RESPONSE),
    ],
)
def test_each_operation_renders_in_its_response_context(operation, context, monkeypatch):
    contexts: list[Context] = []
    service = Service(USER, StoredResource("u1", 1, {"userName": "u"}))
    monkeypatch.setattr(service, "model", lambda stored: Recorded(contexts))
    response = getattr(ResourceEndpoints(service), operation)(request())
    assert response.headers["ETag"] == 'W/"1"'
    assert contexts == [context]


def test_a_list_page_renders_in_the_query_context_unless_told(monkeypatch):
    contexts: list[Context] = []
    service = Service(USER, StoredResource("u1", 1, {"userName": "u"}))
    monkeypatch.setattr(service, "model", lambda stored: Recorded(contexts))
    endpoints = ResourceEndpoints(service)
    endpoints.render_page([service.stored], request(), Projection())
    endpoints.render_page([service.stored], request(), Projection(), Context.SEARCH_RESPONSE)
    assert contexts == [Context.RESOURCE_QUERY_RESPONSE, Context.SEARCH_RESPONSE]

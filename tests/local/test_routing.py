"""Route selection follows API Gateway HTTP API rules: most specific route wins, `{param}` matches
one non-empty segment, a trailing slash is a different path, no route is a 404."""

from __future__ import annotations

from provisioning.local import LocalStack
from provisioning.local.gateway import Router
from provisioning.local.template import Route

from .conftest import GOOD, last_authorizer_event, seen


def route(key: str, function: str = "F") -> Route:
    method, path = key.split(" ", 1)
    return Route(method=method, path=path, function=function, authorizer=None)


def matched_key(router: Router, method: str, path: str) -> str | None:
    found = router.match(method, path)
    return found[0].key if found else None


def test_literal_segment_beats_a_path_variable() -> None:
    router = Router([route("GET /pets/{id}"), route("GET /pets/dog")])
    assert matched_key(router, "GET", "/pets/dog") == "GET /pets/dog"
    assert matched_key(router, "GET", "/pets/cat") == "GET /pets/{id}"


def test_exact_method_beats_any_on_the_same_path() -> None:
    router = Router([route("ANY /pets/{id}"), route("DELETE /pets/{id}")])
    assert matched_key(router, "DELETE", "/pets/1") == "DELETE /pets/{id}"
    assert matched_key(router, "GET", "/pets/1") == "ANY /pets/{id}"


def test_greedy_variable_is_the_last_resort_before_default() -> None:
    router = Router([route("ANY /{proxy+}"), route("GET /pets/{id}"), route("ANY $default")])
    assert matched_key(router, "GET", "/pets/1") == "GET /pets/{id}"
    found = router.match("POST", "/pets/1/toys")
    assert found is not None
    assert found[0].key == "ANY /{proxy+}"
    assert found[1] == {"proxy": "pets/1/toys"}
    assert matched_key(router, "GET", "/") == "$default"


def test_variable_never_matches_an_empty_segment() -> None:
    router = Router([route("GET /pets/{id}")])
    assert router.match("GET", "/pets/") is None
    assert router.match("GET", "/pets") is None


def test_method_must_match_unless_any() -> None:
    router = Router([route("GET /pets")])
    assert router.match("POST", "/pets") is None


def test_path_parameters_reach_the_function_decoded(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/items/a%20b/parts/7", headers=GOOD))["event"]
    assert event["routeKey"] == "GET /items/{id}/parts/{part}"
    assert event["pathParameters"] == {"id": "a b", "part": "7"}


def test_any_route_keeps_any_in_its_route_key(stack: LocalStack) -> None:
    event = seen(stack.request("DELETE", "/items/42", headers=GOOD))["event"]
    assert event["routeKey"] == "ANY /items/{id}"
    assert event["requestContext"]["routeKey"] == "ANY /items/{id}"
    assert event["requestContext"]["http"]["method"] == "DELETE"


def test_method_specific_route_goes_to_its_own_function(stack: LocalStack) -> None:
    put = seen(stack.request("PUT", "/items/42", headers=GOOD))
    assert put["env"]["FUNCTION_ROLE"] == "writer"
    assert put["event"]["routeKey"] == "PUT /items/{id}"
    assert seen(stack.request("GET", "/items/42", headers=GOOD))["env"]["FUNCTION_ROLE"] == "echo"


def test_literal_route_wins_through_the_gateway(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/items/special", headers=GOOD))["event"]
    assert event["routeKey"] == "GET /items/special"
    assert "pathParameters" not in event


def test_trailing_slash_is_not_found(stack: LocalStack) -> None:
    response = stack.request("GET", "/items/", headers=GOOD)
    assert response.status == 404
    assert response.json() == {"message": "Not Found"}


def test_unknown_path_is_404_before_any_authorization(stack: LocalStack, project: object) -> None:
    response = stack.request("GET", "/nowhere")
    assert response.status == 404
    assert response.body == b'{"message":"Not Found"}'
    assert response.headers["content-type"] == "application/json"
    assert last_authorizer_event(stack.template.root) is None

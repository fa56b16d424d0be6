"""The events functions receive have the shape API Gateway HTTP APIs (payload 2.0) give them."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from provisioning.local import LocalStack

from .conftest import GOOD, last_authorizer_event, seen

REAL_EVENT = json.loads(
    (Path(__file__).parent / "events" / "http_api_v2_lambda_authorizer.json").read_text()
)


def full_request(stack: LocalStack) -> dict[str, Any]:
    """A request that uses every part of the event: cookies, query, body, path parameter."""
    response = stack.request(
        "POST",
        "/items/42?tag=a&tag=b",
        headers={**GOOD, "Content-Type": "application/json", "Cookie": "session=abc; theme=dark"},
        body=b'{"name":"x"}',
        query={"q": "x"},
    )
    event: dict[str, Any] = seen(response)["event"]
    return event


def test_event_has_exactly_the_keys_of_a_real_http_api_event(stack: LocalStack) -> None:
    event = full_request(stack)
    assert set(event) == set(REAL_EVENT)
    assert set(event["requestContext"]) == set(REAL_EVENT["requestContext"])
    assert set(event["requestContext"]["http"]) == set(REAL_EVENT["requestContext"]["http"])
    assert set(event["headers"]) >= set(REAL_EVENT["headers"]) - {"accept", "user-agent"}


def test_event_values_follow_the_payload_format(stack: LocalStack) -> None:
    event = full_request(stack)
    context = event["requestContext"]
    assert event["version"] == "2.0"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "tag=a&tag=b&q=x"
    assert event["body"] == '{"name":"x"}'
    assert event["isBase64Encoded"] is False
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert context["domainName"] == f"{context['apiId']}.execute-api.us-east-1.amazonaws.com"
    assert context["domainPrefix"] == context["apiId"]
    assert context["http"]["path"] == "/items/42"
    assert context["http"]["protocol"] == "HTTP/1.1"
    assert len(context["requestId"]) == 16
    assert abs(context["timeEpoch"] / 1000 - time.time()) < 60
    assert context["time"].endswith(" +0000")


def test_cookies_leave_the_headers_for_their_own_list(stack: LocalStack) -> None:
    event = full_request(stack)
    assert event["cookies"] == ["session=abc", "theme=dark"]
    assert "cookie" not in event["headers"]


def test_headers_are_lower_cased_and_repeats_comma_joined(stack: LocalStack) -> None:
    response = stack.request("GET", "/items", headers={**GOOD, "X-Tenant": "a", "x-tenant": "b"})
    headers = seen(response)["event"]["headers"]
    assert headers["x-tenant"] == "a,b"
    assert headers["authorization"] == "Bearer good"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-port"] == "443"


def test_repeated_query_keys_are_comma_joined(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/items?a=1&a=2&b=&c=x%20y", headers=GOOD))["event"]
    assert event["rawQueryString"] == "a=1&a=2&b=&c=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "", "c": "x y"}


def test_empty_parts_are_left_out_as_on_aws(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/items", headers=GOOD))["event"]
    assert "queryStringParameters" not in event
    assert "cookies" not in event
    assert "body" not in event
    assert "pathParameters" not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False


def test_binary_body_arrives_base64_encoded(stack: LocalStack) -> None:
    payload = bytes(range(256))
    response = stack.request(
        "POST",
        "/items",
        headers={**GOOD, "Content-Type": "application/octet-stream"},
        body=payload,
    )
    event = seen(response)["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_scim_json_body_arrives_base64_encoded_as_on_aws(stack: LocalStack) -> None:
    # HTTP APIs pass only text/*, application/json, /xml and /javascript as text.
    response = stack.request("POST", "/items", headers=GOOD, body={"userName": "bjensen"})
    event = seen(response)["event"]
    assert event["headers"]["content-type"] == "application/scim+json"
    assert event["isBase64Encoded"] is True
    assert json.loads(base64.b64decode(event["body"])) == {"userName": "bjensen"}


def test_authorizer_context_reaches_the_function(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/items", headers=GOOD))["event"]
    assert event["requestContext"]["authorizer"] == {"lambda": {"orgId": "acme", "calls": 1}}


def test_route_without_authorizer_has_no_authorizer_context(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/public"))["event"]
    assert "authorizer" not in event["requestContext"]
    assert last_authorizer_event(stack.template.root) is None


def test_authorizer_receives_a_request_event(stack: LocalStack) -> None:
    stack.request("GET", "/items/7?x=1", headers={**GOOD, "Cookie": "a=b"})
    event = last_authorizer_event(stack.template.root)
    assert event is not None
    api_id = stack.gateway.api.api_id
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["routeArn"] == (
        f"arn:aws:execute-api:us-east-1:123456789012:{api_id}/$default/GET/items/7"
    )
    assert event["identitySource"] == ["Bearer good"]
    assert event["routeKey"] == "ANY /items/{id}"
    assert event["rawPath"] == "/items/7"
    assert event["rawQueryString"] == "x=1"
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["pathParameters"] == {"id": "7"}
    assert event["cookies"] == ["a=b"]
    assert "body" not in event
    assert "authorizer" not in event["requestContext"]


def test_function_gets_its_environment_and_a_lambda_context(stack: LocalStack) -> None:
    answer = seen(stack.request("GET", "/items", headers=GOOD))
    env, context = answer["env"], answer["context"]
    assert env["TABLE_NAME"] == "scim-local-DirectoryTable"
    assert env["STREAM_ARN"].startswith(
        "arn:aws:dynamodb:us-east-1:123456789012:table/scim-local-DirectoryTable/stream/"
    )
    assert env["MODE"] == "testing"
    assert env["FUNCTION_ROLE"] == "echo"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "scim-local-EchoFunction"
    assert env["AWS_REGION"] == "us-east-1"
    assert context["function_name"] == "scim-local-EchoFunction"
    assert context["memory_limit_in_mb"] == 256
    assert context["invoked_function_arn"].endswith(":function:scim-local-EchoFunction")
    assert 0 < context["remaining_ms"] <= 5000
    assert context["aws_request_id"]

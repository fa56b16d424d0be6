"""Routes behind `Auth: {Authorizer: AWS_IAM}`: nothing checks a SigV4 signature locally, so they
are served without any authorizer, as a fixed local IAM user, on loopback only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from provisioning.local import LocalStack

from .conftest import last_authorizer_event, seen


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_iam_route_is_served_without_invoking_the_lambda_authorizer(
    stack: LocalStack, project: Path
) -> None:
    response = stack.request("GET", "/admin/orgs")
    assert response.status == 200
    assert last_authorizer_event(project) is None


def test_iam_route_event_carries_the_local_iam_principal(stack: LocalStack) -> None:
    event = seen(stack.request("GET", "/admin/orgs"))["event"]
    assert event["requestContext"]["authorizer"] == {
        "iam": {
            "accessKey": "AKIALOCALADMIN000000",
            "accountId": "123456789012",
            "callerId": "AIDALOCALADMIN0000000",
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/local-admin",
            "userId": "AIDALOCALADMIN0000000",
        }
    }


def test_greedy_iam_path_reaches_the_function_with_the_whole_rest(stack: LocalStack) -> None:
    event = seen(stack.request("POST", "/admin/orgs/acme/tokens"))["event"]
    assert event["routeKey"] == "ANY /admin/{proxy+}"
    assert event["pathParameters"] == {"proxy": "orgs/acme/tokens"}


def test_iam_route_is_served_on_a_loopback_server(stack: LocalStack) -> None:
    base = stack.serve(host="127.0.0.1")
    status, _ = get(f"{base}/admin/orgs")
    assert status == 200


def test_iam_route_is_forbidden_on_a_server_bound_to_a_non_loopback_host(
    stack: LocalStack,
) -> None:
    base = stack.serve(host="0.0.0.0")  # noqa: S104 - the very case under test
    port = base.rsplit(":", 1)[1]
    status, body = get(f"http://127.0.0.1:{port}/admin/orgs")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})


def test_routes_without_iam_stay_open_on_a_non_loopback_server(stack: LocalStack) -> None:
    base = stack.serve(host="0.0.0.0")  # noqa: S104 - the very case under test
    port = base.rsplit(":", 1)[1]
    status, _ = get(f"http://127.0.0.1:{port}/public")
    assert status == 200

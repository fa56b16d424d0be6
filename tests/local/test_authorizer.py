"""The Lambda authorizer runs as API Gateway runs it: 401 without the identity source, 403 on a
refusal, 500 on a failure, and one answer cached per identity source for ReauthorizeEvery."""

from __future__ import annotations

from pathlib import Path

from provisioning.local import LocalStack

from .conftest import GOOD, FakeClock, last_authorizer_event, seen, write_project


def authorizer_calls(stack: LocalStack, headers: dict[str, str] = GOOD) -> int:
    event = seen(stack.request("GET", "/items", headers=headers))["event"]
    calls: int = event["requestContext"]["authorizer"]["lambda"]["calls"]
    return calls


def test_missing_identity_header_is_401_without_invoking_the_authorizer(
    stack: LocalStack,
) -> None:
    response = stack.request("GET", "/items")
    assert response.status == 401
    assert response.body == b'{"message":"Unauthorized"}'
    assert last_authorizer_event(stack.template.root) is None


def test_empty_identity_header_counts_as_missing(stack: LocalStack) -> None:
    assert stack.request("GET", "/items", headers={"Authorization": ""}).status == 401


def test_refusal_is_403(stack: LocalStack) -> None:
    response = stack.request("GET", "/items", headers={"Authorization": "Bearer bad"})
    assert response.status == 403
    assert response.json() == {"message": "Forbidden"}


def test_authorizer_failure_is_500(stack: LocalStack) -> None:
    response = stack.request("GET", "/items", headers={"Authorization": "Bearer boom"})
    assert response.status == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_answer_is_cached_within_the_ttl(stack: LocalStack, clock: FakeClock) -> None:
    assert authorizer_calls(stack) == 1
    clock.advance(299)
    assert authorizer_calls(stack) == 1


def test_authorizer_runs_again_once_the_ttl_is_over(stack: LocalStack, clock: FakeClock) -> None:
    assert authorizer_calls(stack) == 1
    clock.advance(300)
    assert authorizer_calls(stack) == 2
    assert authorizer_calls(stack) == 2


def test_cache_is_keyed_by_identity_source(stack: LocalStack) -> None:
    assert authorizer_calls(stack, {"Authorization": "Bearer good-1"}) == 1
    assert authorizer_calls(stack, {"Authorization": "Bearer good-2"}) == 2
    assert authorizer_calls(stack, {"Authorization": "Bearer good-1"}) == 1


def test_a_cached_refusal_stays_a_refusal(stack: LocalStack) -> None:
    bad = {"Authorization": "Bearer bad"}
    assert stack.request("GET", "/items", headers=bad).status == 403
    assert stack.request("GET", "/items/1", headers=bad).status == 403
    # The authorizer ran once: its second event would have been for /items/1.
    event = last_authorizer_event(stack.template.root)
    assert event is not None
    assert event["rawPath"] == "/items"


def test_failures_are_not_cached(stack: LocalStack) -> None:
    boom = {"Authorization": "Bearer boom"}
    assert stack.request("GET", "/items", headers=boom).status == 500
    assert stack.request("GET", "/items/1", headers=boom).status == 500
    event = last_authorizer_event(stack.template.root)
    assert event is not None
    assert event["rawPath"] == "/items/1"


POLICY_APP = """\
def handler(event, context):
    effect = "Allow" if event["headers"]["authorization"] == "Bearer good" else "Deny"
    api = event["routeArn"].split("/", 1)[0]
    return {
        "principalId": "idp",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": effect,
                    "Resource": [api + "/*/GET/items"],
                }
            ],
        },
        "context": {"orgId": "acme"},
    }
"""


def test_iam_policy_answers_are_evaluated_against_the_route_arn(tmp_path: Path) -> None:
    root = write_project(tmp_path)
    template = root / "template.yaml"
    template.write_text(
        template.read_text().replace("EnableSimpleResponses: true", "EnableSimpleResponses: false")
    )
    (root / "functions" / "auth" / "app.py").write_text(POLICY_APP)
    with LocalStack.start(root) as stack:
        allowed = seen(stack.request("GET", "/items", headers=GOOD))
        assert allowed["event"]["requestContext"]["authorizer"] == {"lambda": {"orgId": "acme"}}
        # The cached policy is applied to each route: it does not cover /items/1.
        assert stack.request("GET", "/items/1", headers=GOOD).status == 403
        assert stack.request("GET", "/items", headers={"Authorization": "Bearer x"}).status == 403

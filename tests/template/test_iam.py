"""Least privilege: each function's role allows what its code needs, on our resources only."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

TABLE_RESOURCES = [
    {"Fn::GetAtt": ["DirectoryTable", "Arn"]},
    {"Fn::Sub": "${DirectoryTable.Arn}/index/GSI1"},
    {"Fn::Sub": "${DirectoryTable.Arn}/index/GSI2"},
]
TOKEN_SECRETS = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
    "secret:scim/orgs/*"
}
# Item-level reads and writes; transactions are authorized per item by these same actions.
DYNAMODB_READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"}
DYNAMODB_CRUD = DYNAMODB_READ | {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}
# Stream consumers (the purge worker) read the table's stream, and only it.
DYNAMODB_STREAM = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
}
TABLE_STREAM = [{"Fn::GetAtt": ["DirectoryTable", "StreamArn"]}]

# Every wildcard a function's policy may hold, with the reason it cannot be narrower. A new
# wildcard fails `test_every_wildcard_in_a_policy_is_justified` until it is argued for here.
JUSTIFIED_WILDCARDS = {
    json.dumps(TOKEN_SECRETS, sort_keys=True): (
        "one secret per organization, created at run time by the admin API: the name prefix is "
        "the narrowest scope, and Secrets Manager appends a random suffix to every secret ARN"
    ),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(props: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in props.get("Policies") or []:
        # Only inline policy documents (no managed policy, no SAM policy template), so that every
        # grant is visible to these checks.
        assert isinstance(policy, dict), policy
        assert "Statement" in policy, policy
        yield from policy["Statement"]


def actions_on(props: Mapping[str, Any], service: str) -> set[str]:
    return {
        action
        for statement in statements(props)
        for action in _as_list(statement["Action"])
        if action.startswith(f"{service}:")
    }


def services(props: Mapping[str, Any]) -> set[str]:
    return {action.split(":")[0] for s in statements(props) for action in _as_list(s["Action"])}


def test_every_wildcard_in_a_policy_is_justified(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    """No wildcard action; a wildcard resource only where JUSTIFIED_WILDCARDS says why."""
    for logical_id, props in functions.items():
        for statement in statements(props):
            where = f"{logical_id} {statement.get('Sid')}"
            for action in _as_list(statement["Action"]):
                assert not set("*?") & set(action), f"{where}: wildcard action {action}"
            for resource in _as_list(statement["Resource"]):
                text = json.dumps(resource, sort_keys=True)
                if "*" in text or "?" in text:
                    assert text in JUSTIFIED_WILDCARDS, f"{where}: unjustified wildcard {text}"


def test_no_function_brings_its_own_role_or_broad_grants(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    for logical_id, props in functions.items():
        assert "Role" not in props, f"{logical_id}: its Policies must tell the whole story"
        for statement in statements(props):
            where = f"{logical_id}: {statement}"
            assert statement["Effect"] == "Allow", where
            assert "NotAction" not in statement, where
            assert "NotResource" not in statement, where
            for action in _as_list(statement["Action"]):
                assert "*" not in action, where
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", where


def test_dynamodb_grants_are_on_the_directory_table_only_and_never_scan(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    """The design forbids Scan on any request path; table management is not a function's job."""
    for logical_id, props in functions.items():
        for statement in statements(props):
            actions = set(_as_list(statement["Action"]))
            if actions and actions <= DYNAMODB_STREAM:
                assert _as_list(statement["Resource"]) == TABLE_STREAM, logical_id
            elif "Condition" in statement and actions == {"dynamodb:UpdateItem"}:
                # Narrowed to some partition keys (the authorizer's rate counters).
                assert _as_list(statement["Resource"]) == TABLE_RESOURCES[:1], logical_id
            elif any(a.startswith("dynamodb:") for a in actions):
                assert actions <= DYNAMODB_CRUD, f"{logical_id}: {actions - DYNAMODB_CRUD}"
                assert _as_list(statement["Resource"]) == TABLE_RESOURCES, logical_id


# Only the admin API issues and rotates tokens; it can neither delete nor list secrets.
ADMIN_SECRETS_ACTIONS = {
    "secretsmanager:CreateSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
}


def test_secrets_grants_are_on_org_token_secrets_only(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    allowed = {
        "AuthorizerFunction": {"secretsmanager:GetSecretValue"},
        "AdminFunction": ADMIN_SECRETS_ACTIONS,
    }
    for logical_id, props in functions.items():
        for statement in statements(props):
            actions = set(_as_list(statement["Action"]))
            if any(a.startswith("secretsmanager:") for a in actions):
                assert logical_id in allowed, f"{logical_id} touches token secrets"
                assert actions == allowed[logical_id], logical_id
                assert _as_list(statement["Resource"]) == [TOKEN_SECRETS], logical_id


def test_authorizer_reads_token_secrets_and_counts_requests_only(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    props = functions["AuthorizerFunction"]
    assert [(set(_as_list(s["Action"])), _as_list(s["Resource"])) for s in statements(props)] == [
        ({"secretsmanager:GetSecretValue"}, [TOKEN_SECRETS]),
        ({"dynamodb:UpdateItem"}, [{"Fn::GetAtt": ["DirectoryTable", "Arn"]}]),
    ]
    (counting,) = [s for s in statements(props) if s["Action"] == "dynamodb:UpdateItem"]
    # The rate counters' partition, and no other item of the table.
    assert counting["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RATE#*"]}
    }


def test_users_gets_item_crud_on_the_table(functions: Mapping[str, Mapping[str, Any]]) -> None:
    props = functions["UsersFunction"]
    assert actions_on(props, "dynamodb") == DYNAMODB_CRUD
    assert services(props) == {"dynamodb"}


def test_discovery_has_no_grant(functions: Mapping[str, Mapping[str, Any]]) -> None:
    """Discovery is rendered from the package's models: no table, no secret, nothing to grant."""
    assert not functions["DiscoveryFunction"].get("Policies")


@pytest.mark.parametrize("logical_id", ["UsersFunction", "DiscoveryFunction"])
def test_scim_functions_cannot_read_token_secrets(
    functions: Mapping[str, Mapping[str, Any]], logical_id: str
) -> None:
    assert not actions_on(functions[logical_id], "secretsmanager")


def test_publisher_puts_events_on_our_bus_only_and_reads_the_stream(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    grants = {
        frozenset(_as_list(s["Action"])): _as_list(s["Resource"])
        for s in statements(functions["PublisherFunction"])
    }
    assert grants == {
        frozenset({"events:PutEvents"}): [{"Fn::GetAtt": ["DirectoryEventBus", "Arn"]}],
        frozenset(DYNAMODB_STREAM): TABLE_STREAM,
    }


def test_fanout_sends_only_to_its_own_queue(functions: Mapping[str, Mapping[str, Any]]) -> None:
    props = functions["FanoutFunction"]
    assert services(props) == {"dynamodb", "sqs"}
    sqs = [s for s in statements(props) if _as_list(s["Action"]) == ["sqs:SendMessage"]]
    assert [_as_list(s["Resource"]) for s in sqs] == [[{"Fn::GetAtt": ["FanoutQueue", "Arn"]}]]

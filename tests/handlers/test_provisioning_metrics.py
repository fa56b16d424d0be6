"""Provisioning counts per organization and operation, as the real handlers print them (CloudWatch
embedded metric format on stdout, which Lambda ships to CloudWatch Logs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import load_event
from tests.handlers.test_handlers import for_user, invoke, load_function


@pytest.fixture
def users(stack):
    return load_function("users").handler


@pytest.fixture
def groups(stack):
    return load_function("groups").handler


def provisioned(captured: str) -> list[dict[str, Any]]:
    """The EMF records of the `Provisioned` metric among the captured output lines."""
    records = []
    for line in captured.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        definitions = record.get("_aws", {}).get("CloudWatchMetrics", [])
        if any(m["Name"] == "Provisioned" for d in definitions for m in d["Metrics"]):
            records.append(record)
    return records


def test_a_created_user_is_counted_for_its_organization_as_create_user(users, capsys):
    capsys.readouterr()
    status, _, _ = invoke(users, load_event("users_create_entra.json"))

    assert status == 201
    [record] = provisioned(capsys.readouterr().out)
    assert record["orgId"] == "contoso"
    assert record["operation"] == "CreateUser"
    assert record["Provisioned"] == [1.0]
    [metric] = record["_aws"]["CloudWatchMetrics"]
    assert metric["Namespace"] == "ScimProvisioning"
    assert metric["Metrics"] == [{"Name": "Provisioned", "Unit": "Count"}]


def test_the_count_has_one_dimension_set_per_operation_and_one_per_organization(users, capsys):
    capsys.readouterr()
    invoke(users, load_event("users_create_entra.json"))

    [record] = provisioned(capsys.readouterr().out)
    dimension_sets = {
        tuple(sorted(s)) for s in record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    }
    assert dimension_sets == {("operation", "service"), ("orgId", "service")}


def test_each_user_write_is_counted_under_its_own_operation(users, capsys):
    _, _, created = invoke(users, load_event("users_create_entra.json"))
    capsys.readouterr()

    invoke(users, for_user(load_event("users_patch_entra.json"), created["id"]))
    invoke(users, for_user(load_event("users_delete.json"), created["id"]))

    records = provisioned(capsys.readouterr().out)
    assert [(r["orgId"], r["operation"]) for r in records] == [
        ("contoso", "PatchUser"),
        ("contoso", "DeleteUser"),
    ]


def test_a_group_patch_is_counted_as_patch_group(groups, capsys):
    _, _, group = invoke(groups, load_event("groups_create_entra.json"))
    event = load_event("groups_push_okta.json")
    path = f"/scim/v2/Groups/{group['id']}"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"id": group["id"]}
    body = json.loads(event["body"])
    body["Operations"] = [{"op": "replace", "value": {"displayName": "Renamed"}}]
    event["body"] = json.dumps(body)
    event["headers"]["content-length"] = str(len(event["body"]))
    capsys.readouterr()

    status, _, _ = invoke(groups, event)

    assert status == 200
    [record] = provisioned(capsys.readouterr().out)
    assert (record["orgId"], record["operation"]) == ("contoso", "PatchGroup")


def test_reads_are_not_counted(users, capsys):
    capsys.readouterr()

    status, _, _ = invoke(users, load_event("users_list_okta.json"))

    assert status == 200
    assert provisioned(capsys.readouterr().out) == []


def test_a_refused_write_is_not_counted(users, capsys):
    invoke(users, load_event("users_create_entra.json"))
    capsys.readouterr()

    status, _, _ = invoke(users, load_event("users_create_entra.json"))

    assert status == 409
    assert provisioned(capsys.readouterr().out) == []


def test_a_failing_metric_does_not_fail_the_committed_write(users, capsys, monkeypatch):
    from provisioning.http import lambda_handler

    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("no dimension sets in this Powertools")

    monkeypatch.setattr(lambda_handler.EphemeralMetrics, "add_dimensions", refuse)
    capsys.readouterr()

    status, _, created = invoke(users, load_event("users_create_entra.json"))

    assert status == 201
    assert created["id"]
    assert provisioned(capsys.readouterr().out) == []

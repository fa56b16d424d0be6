"""What a reviewer checks in template.yaml, beyond what cfn-lint knows: the contract other code
relies on (names, routes, environment), the runtime, and the table's safety settings."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.template.conftest import FUNCTION, REPO_ROOT

SCIM_FUNCTIONS = {
    "AuthorizerFunction": ("functions/authorizer", "scim-authorizer"),
    "UsersFunction": ("functions/users", "scim-users"),
    "DiscoveryFunction": ("functions/discovery", "scim-discovery"),
}
ROUTES = {
    ("ANY", "/scim/v2/Users"): "UsersFunction",
    ("ANY", "/scim/v2/Users/{id}"): "UsersFunction",
    ("ANY", "/scim/v2/.search"): "UsersFunction",
    ("ANY", "/scim/v2/ServiceProviderConfig"): "DiscoveryFunction",
    ("ANY", "/scim/v2/ResourceTypes"): "DiscoveryFunction",
    ("ANY", "/scim/v2/ResourceTypes/{id}"): "DiscoveryFunction",
    ("ANY", "/scim/v2/Schemas"): "DiscoveryFunction",
    ("ANY", "/scim/v2/Schemas/{id}"): "DiscoveryFunction",
    # Every unmatched path gets a SCIM Error, not API Gateway's bare 404.
    ("ANY", "$default"): "DiscoveryFunction",
}
PSEUDO = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}


def http_api_events(functions: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[str, str, Any]]:
    """(function, event name, event properties) for every HttpApi event in the template."""
    for logical_id, props in functions.items():
        for name, event in (props.get("Events") or {}).items():
            if event["Type"] == "HttpApi":
                props = event.get("Properties") or {}
                # SAM: an HttpApi event with neither Path nor Method is the API's $default route.
                yield logical_id, name, {"Method": "ANY", "Path": "$default", **props}


# ---------------------------------------------------------------- references


def _sam_implicit(resources: Mapping[str, Any]) -> set[str]:
    """Logical ids the SAM transform adds and a template may refer to."""
    names: set[str] = set()
    for logical_id, resource in resources.items():
        if resource["Type"] == FUNCTION:
            names |= {f"{logical_id}Role", f"{logical_id}.Version", f"{logical_id}.Alias"}
        elif resource["Type"] == "AWS::Serverless::HttpApi":
            names |= {f"{logical_id}ApiGatewayDefaultStage", f"{logical_id}.Stage"}
    return names


def _references(node: Any, path: str) -> Iterator[tuple[str, str, str]]:
    """(kind, name, where) for every Ref, GetAtt, Sub variable and Fn::If condition under node."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _references(item, f"{path}[{index}]")
        return
    if not isinstance(node, dict):
        return
    if len(node) == 1:
        ((key, value),) = node.items()
        if key == "Ref" and isinstance(value, str):
            yield "Ref", value, path
        elif key == "Fn::GetAtt":
            target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
            yield "GetAtt", target, path
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
            for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                if name not in variables:
                    yield "Sub", name.split(".", 1)[0] if "::" not in name else name, path
            yield from _references(variables, f"{path}.Fn::Sub")
            return
        elif key == "Fn::If":
            yield "Condition", value[0], path
    for key, value in node.items():
        yield from _references(value, f"{path}.{key}")


def test_every_reference_names_something_that_exists(template: Mapping[str, Any]) -> None:
    """cfn-lint from 1.54 no longer checks references inside SAM resources: this does."""
    resources = template["Resources"]
    known = set(resources) | set(template.get("Parameters") or {}) | PSEUDO
    known |= _sam_implicit(resources)
    conditions = set(template.get("Conditions") or {})
    sections = ("Globals", "Resources", "Outputs", "Conditions")
    dangling = [
        f"{where}: {kind} {name}"
        for section in sections
        for kind, name, where in _references(template.get(section) or {}, section)
        if (name not in conditions if kind == "Condition" else name not in known)
    ]
    for logical_id, resource in resources.items():
        if "Condition" in resource and resource["Condition"] not in conditions:
            dangling.append(f"Resources.{logical_id}: Condition {resource['Condition']}")
        depends = resource.get("DependsOn") or []
        for name in [depends] if isinstance(depends, str) else depends:
            if name not in resources:
                dangling.append(f"Resources.{logical_id}: DependsOn {name}")
    assert not dangling, "\n".join(dangling)


# ---------------------------------------------------------------- functions


def test_the_contract_functions_exist(functions: Mapping[str, Any]) -> None:
    assert set(SCIM_FUNCTIONS) <= set(functions)


def test_every_function_runs_python313_on_arm64_with_the_shared_layer(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    for logical_id, props in functions.items():
        assert props.get("Runtime") == "python3.13", logical_id
        assert props.get("Architectures") == ["arm64"], logical_id
        assert props.get("Layers") == [{"Ref": "SharedLayer"}], logical_id
        assert props.get("Tracing") == "Active", logical_id
        assert props.get("Handler") == "app.handler", logical_id


def test_every_function_builds_with_its_own_makefile(
    template: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]]
) -> None:
    for logical_id, props in functions.items():
        assert template["Resources"][logical_id].get("Metadata") == {"BuildMethod": "makefile"}
        code = REPO_ROOT / props["CodeUri"]
        assert props["CodeUri"].startswith("functions/"), logical_id
        assert (code / "app.py").is_file(), f"{logical_id}: no {code}/app.py"
        makefile = (code / "Makefile").read_text()
        assert re.search(rf"^build-{logical_id}:", makefile, re.M), f"{code}/Makefile"


@pytest.mark.parametrize(("logical_id", "where"), sorted(SCIM_FUNCTIONS.items()))
def test_contract_function_code_service_and_limits(
    functions: Mapping[str, Mapping[str, Any]], logical_id: str, where: tuple[str, str]
) -> None:
    code_uri, service = where
    props = functions[logical_id]
    assert props["CodeUri"].rstrip("/") == code_uri
    assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == service
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == (10 if logical_id == "AuthorizerFunction" else 29)


def test_every_function_gets_the_shared_environment(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    services = []
    for logical_id, props in functions.items():
        variables = props["Environment"]["Variables"]
        assert variables["TABLE_NAME"] == {"Ref": "DirectoryTable"}, logical_id
        assert variables["TOKEN_SECRET_PREFIX"] == "scim/orgs/", logical_id
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ScimProvisioning", logical_id
        assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}, logical_id
        assert variables["MAX_BODY_BYTES"] == {"Ref": "MaxRequestBodyBytes"}, logical_id
        services.append(variables["POWERTOOLS_SERVICE_NAME"])
    assert len(services) == len(set(services)), f"service names must differ: {services}"


def test_timeouts_fit_under_the_api_gateway_limit(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    """An HTTP API integration times out at 30 s: a longer function would be cut off mid-write."""
    serving = {function for function, _, _ in http_api_events(functions)} | {"AuthorizerFunction"}
    for logical_id in serving:
        assert functions[logical_id]["Timeout"] <= 29, logical_id


def test_every_function_has_a_log_group_with_retention(
    resources: Mapping[str, Any], functions: Mapping[str, Any]
) -> None:
    groups = {
        str(resource["Properties"].get("LogGroupName")): resource["Properties"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Logs::LogGroup"
    }
    for logical_id in functions:
        props = groups.get(str({"Fn::Sub": f"/aws/lambda/${{{logical_id}}}"}))
        assert props is not None, f"no log group for {logical_id}"
        assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


# ---------------------------------------------------------------- layer


def test_shared_layer(resources: Mapping[str, Any]) -> None:
    layer = resources["SharedLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    props = layer["Properties"]
    assert props["ContentUri"].rstrip("/") == "layers/shared"
    assert set(props["CompatibleRuntimes"]) == {"python3.12", "python3.13"}
    assert props["CompatibleArchitectures"] == ["arm64"]


# ---------------------------------------------------------------- API


def test_http_api_with_the_token_authorizer_as_default(resources: Mapping[str, Any]) -> None:
    api = resources["ScimApi"]
    assert api["Type"] == "AWS::Serverless::HttpApi"
    auth = api["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "ScimTokenAuthorizer"
    assert auth["Authorizers"]["ScimTokenAuthorizer"] == {
        "FunctionArn": {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]},
        "AuthorizerPayloadFormatVersion": "2.0",
        "EnableSimpleResponses": True,
    }
    # No identity source: API Gateway would answer a request without one with its own non-SCIM
    # 401, before the authorizer (and so the functions' SCIM 401) could.
    assert "Identity" not in auth["Authorizers"]["ScimTokenAuthorizer"]
    assert api["Properties"].get("PayloadFormatVersion", "2.0") == "2.0"


def test_routes_are_exactly_the_contract(functions: Mapping[str, Mapping[str, Any]]) -> None:
    declared = {
        (props["Method"], props["Path"]): logical_id
        for logical_id, _, props in http_api_events(functions)
        if logical_id in SCIM_FUNCTIONS
    }
    assert declared == ROUTES


def test_every_route_is_behind_the_token_authorizer_or_iam(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    events = list(http_api_events(functions))
    assert events
    for logical_id, name, props in events:
        where = f"{logical_id}.Events.{name}"
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), f"{where}: name it clearly"
        assert props.get("ApiId") == {"Ref": "ScimApi"}, f"{where} is not on ScimApi"
        # SCIM routes keep the default authorizer; admin routes, and only they, use IAM.
        # (`Authorizer: NONE` would open a route.)
        authorizer = (props.get("Auth") or {}).get("Authorizer", "ScimTokenAuthorizer")
        expected = "AWS_IAM" if props["Path"].startswith("/admin/") else "ScimTokenAuthorizer"
        assert authorizer == expected, where
        assert props["Path"] == "$default" or props["Path"].startswith(("/scim/v2/", "/admin/")), (
            where
        )
        assert props.get("PayloadFormatVersion", "2.0") == "2.0", where
    for logical_id, props in functions.items():
        for name, event in (props.get("Events") or {}).items():
            assert event["Type"] != "Api", f"{logical_id}.{name}: a REST API event"


def test_only_this_apis_authorizers_may_invoke_the_authorizer(
    resources: Mapping[str, Any],
) -> None:
    """SAM adds no invoke permission for an HTTP API's Lambda authorizer: the template must."""
    permissions = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"]
        in ({"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}, {"Ref": "AuthorizerFunction"})
    ]
    assert len(permissions) == 1
    (permission,) = permissions
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["SourceArn"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
        "${ScimApi}/authorizers/*"
    }


def test_api_access_log_never_records_credentials(resources: Mapping[str, Any]) -> None:
    settings = resources["ScimApi"]["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    log_format = settings["Format"]
    assert "$context.requestId" in log_format
    assert "header" not in log_format.lower()
    assert "authorization" not in log_format.lower()
    group = resources["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_outputs(template: Mapping[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["ScimBaseUrl"]["Value"] == {
        "Fn::Sub": "https://${ScimApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/scim/v2"
    }
    assert outputs["DirectoryTableName"]["Value"] == {"Ref": "DirectoryTable"}
    assert outputs["AdminBaseUrl"]["Value"] == {
        "Fn::Sub": "https://${ScimApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/admin"
    }


# Each operational parameter and where it must take effect (function → environment variable).
PARAMETER_VARIABLES = {
    "LogLevel": ("AuthorizerFunction", "POWERTOOLS_LOG_LEVEL"),
    "MaxRequestBodyBytes": ("UsersFunction", "MAX_BODY_BYTES"),
    "AuthorizerCacheSeconds": ("AuthorizerFunction", "TOKEN_CACHE_SECONDS"),
    "OrgRequestsPerSecond": ("AuthorizerFunction", "ORG_REQUESTS_PER_SECOND"),
    "TokenGraceHours": ("AdminFunction", "TOKEN_GRACE_HOURS"),
}


@pytest.mark.parametrize("parameter", sorted(PARAMETER_VARIABLES))
def test_operational_parameters_reach_the_functions(
    template: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]], parameter: str
) -> None:
    assert "Default" in template["Parameters"][parameter], "sam deploy --guided offers a default"
    function, variable = PARAMETER_VARIABLES[parameter]
    assert functions[function]["Environment"]["Variables"][variable] == {"Ref": parameter}


def test_the_settings_model_reads_every_variable_the_parameters_set() -> None:
    """A parameter whose variable no code reads would be a setting that does nothing."""
    from provisioning.settings import _VARIABLES

    for _function, variable in PARAMETER_VARIABLES.values():
        assert variable in _VARIABLES.values() or variable.startswith("POWERTOOLS_"), variable


def test_stage_tags_the_functions_and_the_api(
    resources: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]]
) -> None:
    for logical_id, props in functions.items():
        assert props["Tags"]["stage"] == {"Ref": "Stage"}, logical_id
    assert resources["ScimApi"]["Properties"]["Tags"]["stage"] == {"Ref": "Stage"}


def test_alarm_email_subscribes_only_when_given(resources: Mapping[str, Any]) -> None:
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


# ---------------------------------------------------------------- table


def test_directory_table(resources: Mapping[str, Any]) -> None:
    table = resources["DirectoryTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    pitr = props["PointInTimeRecoverySpecification"]
    assert pitr["PointInTimeRecoveryEnabled"] is True
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_directory_table_indexes(resources: Mapping[str, Any]) -> None:
    props = resources["DirectoryTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"GSI1", "GSI2"}
    for name, prefix in (("GSI1", "gsi1"), ("GSI2", "gsi2")):
        assert indexes[name]["KeySchema"] == [
            {"AttributeName": f"{prefix}pk", "KeyType": "HASH"},
            {"AttributeName": f"{prefix}sk", "KeyType": "RANGE"},
        ]
        assert indexes[name]["Projection"] == {"ProjectionType": "ALL"}
    # Every key attribute is a string, and only key attributes are declared.
    declared = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert declared == dict.fromkeys(["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"], "S")


# ---------------------------------------------------------------- alarms


def _alarms(resources: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]


def test_api_5xx_alarm(resources: Mapping[str, Any]) -> None:
    matching = [
        alarm
        for alarm in _alarms(resources)
        if alarm.get("Namespace") == "AWS/ApiGateway" and alarm.get("MetricName") == "5xx"
    ]
    assert len(matching) == 1
    dimensions = {d["Name"]: d["Value"] for d in matching[0]["Dimensions"]}
    assert dimensions == {"ApiId": {"Ref": "ScimApi"}, "Stage": "$default"}


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_lambda_alarms(
    resources: Mapping[str, Any], functions: Mapping[str, Any], metric: str
) -> None:
    watched = {
        alarm["Dimensions"][0]["Value"]["Ref"]
        for alarm in _alarms(resources)
        if alarm.get("Namespace") == "AWS/Lambda" and alarm.get("MetricName") == metric
    }
    assert watched == set(functions)


def test_alarms_are_sensible(resources: Mapping[str, Any]) -> None:
    alarms = _alarms(resources)
    assert alarms
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], alarm
        # No data is good news for errors; "missing" must not page anyone at night.
        assert alarm["TreatMissingData"] == "notBreaching", alarm
        # Counts are summed; a lag or a queue depth is watched at its peak.
        peak = alarm["MetricName"] in {"IteratorAge", "ApproximateNumberOfMessagesVisible"}
        assert alarm["Statistic"] == ("Maximum" if peak else "Sum"), alarm
        assert alarm["Period"] * alarm["EvaluationPeriods"] <= 3600, alarm


def test_the_access_rule_routes_the_fanouts_events_to_its_queue(
    resources: Mapping[str, Any],
) -> None:
    rule = resources["AccessChangesRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "DirectoryEventBus"}
    assert rule["EventPattern"]["source"] == ["scim.provisioning"]
    # Access.* events are for downstream consumers: routing them back would loop.
    assert not [t for t in rule["EventPattern"]["detail-type"] if t.startswith("Access.")]
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]}


def test_the_fanout_queue_outlasts_retries_and_has_a_dead_letter_queue(
    resources: Mapping[str, Any], functions: Mapping[str, Mapping[str, Any]]
) -> None:
    queue = resources["FanoutQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] >= 3
    # Lambda's advice for an SQS source: visibility at least six times the function timeout.
    assert queue["VisibilityTimeout"] >= 6 * functions["FanoutFunction"]["Timeout"]
    [source] = functions["FanoutFunction"]["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_publisher_never_gives_up_on_an_outbox_event(
    functions: Mapping[str, Mapping[str, Any]],
) -> None:
    [source] = functions["PublisherFunction"]["Events"].values()
    props = source["Properties"]
    assert source["Type"] == "DynamoDB"
    assert props["MaximumRetryAttempts"] == -1
    assert props["MaximumRecordAgeInSeconds"] == -1
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert '"Outbox"' in props["FilterCriteria"]["Filters"][0]["Pattern"]


def test_revoked_grant_tombstones_outlive_any_queued_event(resources: Mapping[str, Any]) -> None:
    """A late event must still find where a removed grant left sources: tombstones live longer
    than a message can wait in the fan-out queue and then in its dead-letter queue."""
    from provisioning.store.access import REVOKED_GRANT_RETENTION

    waiting = sum(
        resources[queue]["Properties"]["MessageRetentionPeriod"]
        for queue in ("FanoutQueue", "FanoutDeadLetterQueue")
    )
    assert REVOKED_GRANT_RETENTION.total_seconds() > waiting

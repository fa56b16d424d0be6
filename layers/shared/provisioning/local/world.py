"""A moto world: fake AWS credentials, the template's resources and environment, then a clean exit.

Everything a real account would hold before the first request (the table with its indexes, stream
and TTL, the queues with their redrive policy, the event buses and their rules with targets) is
created from the template's own properties, so a key schema, a queue attribute or a rule's pattern
changed in `template.yaml` is what the handlers meet locally too.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from provisioning.local.cfn import DEFAULT_EVENT_BUS, PhysicalResource, TemplateError
from provisioning.local.moto_dynamodb import atomic_transactions
from provisioning.local.moto_events import eventbridge_delivery, rule_pattern
from provisioning.local.patterns import PatternError
from provisioning.local.template import (
    EVENT_BUS_TYPE,
    QUEUE_TYPE,
    RULE_TYPE,
    TABLE_TYPE,
    ResourceSpec,
    SamTemplate,
)

logger = logging.getLogger("provisioning.local")

# Set whatever the template says: no request may reach a real account, and the Powertools
# features that need one (X-Ray) are off.
_FORCED_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    # moto with current botocore: DynamoDB Streams calls need account-id endpoints disabled.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Used only where the template sets nothing.
_DEFAULT_ENVIRONMENT = {
    "POWERTOOLS_METRICS_NAMESPACE": "ScimProvisioningLocal",
    "POWERTOOLS_SERVICE_NAME": "scim-local",
}
# A profile or endpoint override in the developer's shell would send calls past moto.
_CLEARED_PREFIXES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL")

# CloudFormation table properties that CreateTable takes as they are.
_CREATE_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "LocalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "TableClass",
    "DeletionProtectionEnabled",
    "Tags",
)
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
# Properties that change nothing a handler can observe through the API it is allowed to call.
_IGNORED_TABLE_PROPERTIES = frozenset(
    {"ContributorInsightsSpecification", "KinesisStreamSpecification", "ResourcePolicy"}
)
# CloudFormation queue properties that CreateQueue takes as attributes of the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)
# Set once every queue exists: they name another queue by its ARN.
_QUEUE_POLICIES = ("RedrivePolicy", "RedriveAllowPolicy")
_RULE_PARAMETERS = ("Description", "EventPattern", "RoleArn", "ScheduleExpression", "State")


@functools.cache
def _botocore_session() -> botocore.session.Session:
    # One per process: a fresh session re-reads every service model (~0.1 s per stack). Its
    # credentials are moto's fake ones, the same in every world.
    return botocore.session.get_session()


@dataclass
class MotoWorld:
    """The running fake account: the template it was built from and a session inside it.

    `tables` and `event_buses` map logical ids to names, `queues` logical ids to queue URLs.
    """

    template: SamTemplate
    session: boto3.Session
    tables: Mapping[str, str]
    queues: Mapping[str, str]
    event_buses: Mapping[str, str]

    def client(self, service: str) -> Any:
        """A boto3 client bound to the fake account (moto intercepts it)."""
        return self.session.client(service)  # type: ignore[call-overload]


def shared_environment(template: SamTemplate) -> dict[str, str]:
    """Variables every function has with the same value; per-function ones are set per call."""
    environments = [spec.environment for spec in template.functions().values()]
    if not environments:
        return {}
    first, *others = environments
    return {
        name: value
        for name, value in first.items()
        if all(other.get(name) == value for other in others)
    }


def reset_containers() -> None:
    """Forget what the shared package cached per container (settings, clients): a new world is
    a cold start for every function."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("provisioning.") or name.startswith("provisioning.local"):
            continue
        for value in list(vars(module).values()):
            # functools.cache / lru_cache wrappers; classes are skipped (pydantic models have
            # unrelated attributes).
            if callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                value.cache_clear()


@contextmanager
def atomic_requests() -> Iterator[None]:
    """Serve one AWS call at a time while the block runs.

    Each call to a real service is atomic: a GetRecords sees a transaction entirely or not at
    all, a Query never meets a table half way through a PutItem. moto's backends are plain
    dictionaries and lists that a call iterates and mutates without locks, so with invocations
    running concurrently each call holds one lock from request to response. Calls of different
    invocations still interleave freely between each other, which is where the races of the code
    under test are (a read, then a conditional write).
    """
    original = BotocoreStubber.process_request
    lock = threading.RLock()

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    try:
        yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]


@contextmanager
def patched_environment(set_values: Mapping[str, str], cleared: tuple[str, ...]) -> Iterator[None]:
    removed = [name for name in os.environ if name.startswith(cleared)]
    touched = set(set_values) | set(removed)
    saved = {name: os.environ.get(name) for name in touched}
    for name in removed:
        del os.environ[name]
    os.environ.update(set_values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _create_table(client: Any, spec: ResourceSpec) -> PhysicalResource:
    props = dict(spec.properties)
    request: dict[str, Any] = {"TableName": spec.name}
    request.update({key: props[key] for key in _CREATE_TABLE_PROPERTIES if key in props})
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = [
            {key: index[key] for key in _INDEX_KEYS if key in index}
            for index in props["GlobalSecondaryIndexes"]
        ]
    if "StreamSpecification" in props:
        # CloudFormation enables the stream by naming a view type; the API wants both.
        view = props["StreamSpecification"]["StreamViewType"]
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    if "SSESpecification" in props:
        sse = props["SSESpecification"]
        request["SSESpecification"] = {
            "Enabled": bool(sse.get("SSEEnabled", False)),
            **{key: sse[key] for key in ("SSEType", "KMSMasterKeyId") if key in sse},
        }
    handled = {
        *_CREATE_TABLE_PROPERTIES,
        "TableName",
        "GlobalSecondaryIndexes",
        "StreamSpecification",
        "SSESpecification",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
    }
    for key in sorted(set(props) - handled - _IGNORED_TABLE_PROPERTIES):
        logger.warning("table %s: property %s is not applied locally", spec.logical_id, key)

    description = client.create_table(**request)["TableDescription"]
    if "TimeToLiveSpecification" in props:
        ttl = props["TimeToLiveSpecification"]
        client.update_time_to_live(
            TableName=spec.name,
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": bool(ttl.get("Enabled", False)),
            },
        )
    if "PointInTimeRecoverySpecification" in props:
        pitr = props["PointInTimeRecoverySpecification"]
        client.update_continuous_backups(
            TableName=spec.name,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled", False))
            },
        )
    attributes = {"Arn": description["TableArn"]}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = description["LatestStreamArn"]
    return PhysicalResource(ref=spec.name, attributes=attributes)


def _attribute(value: Any) -> str:
    """A queue attribute as SQS takes it: strings, booleans as "true"/"false", JSON objects."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _create_queues(client: Any, specs: list[ResourceSpec]) -> dict[str, PhysicalResource]:
    """Create the queues, then their redrive policies (a dead-letter queue must exist first)."""
    created = {}
    for spec in specs:
        props = spec.properties
        attributes = {key: _attribute(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        for key in sorted(set(props) - {*_QUEUE_ATTRIBUTES, *_QUEUE_POLICIES, "QueueName"}):
            logger.warning("queue %s: property %s is not applied locally", spec.logical_id, key)
        url = client.create_queue(QueueName=spec.name, Attributes=attributes)["QueueUrl"]
        found = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        arn = found["Attributes"]["QueueArn"]
        created[spec.logical_id] = PhysicalResource(
            ref=url, attributes={"Arn": arn, "QueueName": spec.name, "QueueUrl": url}
        )
    for spec in specs:
        policies = {
            key: _attribute(spec.properties[key])
            for key in _QUEUE_POLICIES
            if key in spec.properties
        }
        if policies:
            client.set_queue_attributes(QueueUrl=created[spec.logical_id].ref, Attributes=policies)
    return created


def _create_event_bus(client: Any, spec: ResourceSpec) -> PhysicalResource:
    for key in sorted(set(spec.properties) - {"Name"}):
        logger.warning("event bus %s: property %s is not applied locally", spec.logical_id, key)
    arn = client.create_event_bus(Name=spec.name)["EventBusArn"]
    return PhysicalResource(ref=spec.name, attributes={"Arn": arn, "Name": spec.name})


def _create_rule(client: Any, spec: ResourceSpec) -> PhysicalResource:
    props = dict(spec.properties)
    if isinstance(props.get("EventPattern"), dict):
        props["EventPattern"] = json.dumps(props["EventPattern"])
    pattern = props.get("EventPattern")
    if pattern is not None:
        try:
            rule_pattern(str(pattern))
        except PatternError as exc:
            raise TemplateError(f"{spec.logical_id}: EventPattern {exc}") from exc
    if "ScheduleExpression" in props:
        logger.warning("rule %s: its schedule does not run locally", spec.logical_id)
    bus = str(props.get("EventBusName", DEFAULT_EVENT_BUS))
    request = {key: props[key] for key in _RULE_PARAMETERS if key in props}
    arn = client.put_rule(Name=spec.name, EventBusName=bus, **request)["RuleArn"]
    targets = props.get("Targets") or []
    if targets:
        client.put_targets(Rule=spec.name, EventBusName=bus, Targets=targets)
    return PhysicalResource(ref=spec.physical.ref, attributes={"Arn": arn})


def _create_resources(session: boto3.Session, template: SamTemplate) -> MotoWorld:
    """Every resource the local stack emulates, in dependency order, each bound to what moto
    created so that intrinsics resolve to it."""
    resolver = template.resolver
    dynamodb = session.client("dynamodb")
    tables = {}
    for spec in template.resources(TABLE_TYPE):
        resolver.bind(spec.logical_id, _create_table(dynamodb, spec))
        tables[spec.logical_id] = spec.name
    events = session.client("events")
    buses = {}
    for spec in template.resources(EVENT_BUS_TYPE):
        resolver.bind(spec.logical_id, _create_event_bus(events, spec))
        buses[spec.logical_id] = spec.name
    queues = {}
    for logical_id, queue in _create_queues(
        session.client("sqs"), template.resources(QUEUE_TYPE)
    ).items():
        resolver.bind(logical_id, queue)
        queues[logical_id] = queue.ref
    for spec in template.resources(RULE_TYPE):
        resolver.bind(spec.logical_id, _create_rule(events, spec))
    return MotoWorld(
        template=template, session=session, tables=tables, queues=queues, event_buses=buses
    )


@contextmanager
def moto_world(template: SamTemplate) -> Iterator[MotoWorld]:
    """Start moto, create the template's resources, export the functions' shared environment;
    undo all of it on exit, whatever happened inside."""
    region = template.resolver.pseudo.region
    base = {
        **_DEFAULT_ENVIRONMENT,
        **_FORCED_ENVIRONMENT,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    with (
        patched_environment(base, _CLEARED_PREFIXES),
        atomic_transactions(),
        atomic_requests(),
        eventbridge_delivery(),
    ):
        mock = mock_aws()
        mock.start()
        try:
            session = boto3.Session(botocore_session=_botocore_session(), region_name=region)
            world = _create_resources(session, template)
            # Resolved only now: a variable may name a table's StreamArn, which moto just chose.
            environment = {**shared_environment(template), **_FORCED_ENVIRONMENT}
            with patched_environment(environment, ()):
                reset_containers()
                try:
                    yield world
                finally:
                    reset_containers()
        finally:
            mock.stop()

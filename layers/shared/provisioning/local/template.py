"""What the local stack needs from the SAM template, read the way SAM and API Gateway read it.

Everything the local stack serves comes from here (routes, authorizers, functions, tables, queues,
event buses and rules, event source mappings, environment), so a route added to `template.yaml` is
served locally without touching this package, and a route missing from it is a 404 locally as it
would be on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioning.local.cfn import (
    PhysicalResource,
    PseudoParameters,
    Resolver,
    TemplateError,
    flag,
    load_template,
)

FUNCTION_TYPE = "AWS::Serverless::Function"
HTTP_API_TYPE = "AWS::Serverless::HttpApi"
TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
EVENT_BUS_TYPE = "AWS::Events::EventBus"
RULE_TYPE = "AWS::Events::Rule"
# SAM creates this API for HttpApi events that name no ApiId.
IMPLICIT_HTTP_API = "ServerlessHttpApi"
DEFAULT_STAGE = "$default"
DEFAULT_ROUTE = "$default"
NO_AUTHORIZER = "NONE"
IAM_AUTHORIZER = "AWS_IAM"
# Lambda's defaults when the template and its Globals say nothing.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
# API Gateway HTTP APIs give up on an integration after 30 s at most.
MAX_INTEGRATION_TIMEOUT_MS = 30_000
DYNAMODB_EVENT = "DynamoDB"
SQS_EVENT = "SQS"
# CreateEventSourceMapping's limits and defaults for a DynamoDB stream (Lambda API reference).
STREAM_STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
DEFAULT_STREAM_BATCH_SIZE = 100
MAX_STREAM_BATCH_SIZE = 10_000
MAX_BATCHING_WINDOW_SECONDS = 300
# CreateEventSourceMapping's limits for a queue: more than 10 messages needs a batching window.
DEFAULT_QUEUE_BATCH_SIZE = 10
MAX_QUEUE_BATCH_SIZE = 10_000
MAX_QUEUE_BATCH_SIZE_WITHOUT_WINDOW = 10
MAX_RETRY_ATTEMPTS = 10_000
MIN_RECORD_AGE_SECONDS, MAX_RECORD_AGE_SECONDS = 60, 604_800
MAX_PARALLELIZATION_FACTOR = 10
# Five filters by default, ten with a quota increase; more is refused.
MAX_FILTERS = 10
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as deployed: where its code is, how it is called, its configuration."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    memory_mb: int
    timeout_seconds: float
    environment: Mapping[str, str]


@dataclass(frozen=True)
class Route:
    """An HTTP API route: `ANY /scim/v2/Users/{id}` → a function, behind an authorizer or not."""

    method: str
    path: str
    function: str
    authorizer: str | None
    timeout_ms: int = MAX_INTEGRATION_TIMEOUT_MS

    @property
    def key(self) -> str:
        """The routeKey API Gateway puts in events: `$default` or `METHOD /path`."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class LambdaAuthorizerSpec:
    """An HTTP API Lambda authorizer; `ttl_seconds` 0 means API Gateway caches nothing."""

    name: str
    function: str
    payload_version: str
    simple_responses: bool
    identity_headers: tuple[str, ...]
    identity_query_strings: tuple[str, ...]
    ttl_seconds: int


@dataclass(frozen=True)
class HttpApiSpec:
    """One HTTP API: its id, stage, routes and Lambda authorizers."""

    logical_id: str
    api_id: str
    stage: str
    routes: tuple[Route, ...]
    authorizers: Mapping[str, LambdaAuthorizerSpec]


@dataclass(frozen=True, kw_only=True)
class EventSourceSpec:
    """What every event source mapping (stream or queue) has: the function it feeds, how it
    batches, and the FilterCriteria patterns as JSON text, ORed."""

    function: str
    event: str
    batch_size: int
    maximum_batching_window_seconds: int = 0
    report_batch_item_failures: bool = False
    filter_patterns: tuple[str, ...] = ()
    enabled: bool = True

    @property
    def name(self) -> str:
        """`Function.Event`, as the template names it."""
        return f"{self.function}.{self.event}"


@dataclass(frozen=True, kw_only=True)
class StreamEventSpec(EventSourceSpec):
    """A `Type: DynamoDB` event: an event source mapping from a table's stream to a function.

    `maximum_retry_attempts` and `maximum_record_age_seconds` are -1 for Lambda's "until the record
    expires".
    """

    stream_arn: str
    starting_position: str
    batch_size: int = DEFAULT_STREAM_BATCH_SIZE
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    bisect_batch_on_function_error: bool = False
    parallelization_factor: int = 1
    on_failure_destination: str | None = None


@dataclass(frozen=True, kw_only=True)
class QueueEventSpec(EventSourceSpec):
    """A `Type: SQS` event: an event source mapping from a queue to a function. Retries and the
    dead-letter queue belong to the queue (its VisibilityTimeout and RedrivePolicy)."""

    queue_arn: str
    batch_size: int = DEFAULT_QUEUE_BATCH_SIZE


@dataclass(frozen=True)
class ResourceSpec:
    """A resource the local stack creates in moto (table, queue, bus, rule): its physical name
    and its resolved CloudFormation properties."""

    logical_id: str
    physical: PhysicalResource
    properties: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The physical name: the last part of the ARN (a queue's Ref is its URL, and a rule's
        Ref names its bus too)."""
        arn = self.physical.attributes.get("Arn")
        return self.physical.ref if arn is None else re.split("[:/]", arn)[-1]


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge (local wins), lists concatenate, scalars and intrinsic
    functions (`{"Ref": ...}`, `{"Fn::...": ...}`) are replaced."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in (*global_value, *local_value)):
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def _ref_target(value: Any) -> str | None:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return str(value["Ref"])
    return None


class SamTemplate:
    """A parsed SAM template with its resolver; paths are relative to the template's folder."""

    def __init__(self, path: Path, document: dict[str, Any], resolver: Resolver) -> None:
        self.path = path
        self.root = path.parent
        self.document = document
        self.resolver = resolver

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        pseudo: PseudoParameters | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> SamTemplate:
        """Read a template; parameters default to their `Default`."""
        document = load_template(path)
        return cls(path, document, Resolver(document, pseudo or PseudoParameters(), parameters))

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one type by logical id, skipping those whose Condition is false."""
        found: dict[str, dict[str, Any]] = {}
        for logical_id, resource in self.document["Resources"].items():
            if resource.get("Type") != resource_type:
                continue
            condition = resource.get("Condition")
            if condition is not None and not self.resolver.condition(str(condition)):
                continue
            found[logical_id] = resource
        return found

    def _globals(self, section: str) -> dict[str, Any]:
        value = (self.document.get("Globals") or {}).get(section) or {}
        return dict(value)

    def _function_properties(self, logical_id: str) -> dict[str, Any]:
        resource = self.resources_of_type(FUNCTION_TYPE).get(logical_id)
        if resource is None:
            raise TemplateError(f"no function {logical_id!r} in the template")
        merged: dict[str, Any] = merge_globals(
            self._globals("Function"), dict(resource.get("Properties") or {})
        )
        return merged

    def environment(self, logical_id: str) -> dict[str, str]:
        """A function's environment variables, Globals merged and intrinsics resolved."""
        props = self._function_properties(logical_id)
        variables = self.resolver.resolve((props.get("Environment") or {}).get("Variables") or {})
        return {str(name): self.resolver.resolve_str(value) for name, value in variables.items()}

    def function(self, logical_id: str) -> FunctionSpec:
        """One function, ready to be loaded from its code folder."""
        props = self._function_properties(logical_id)
        if props.get("PackageType", "Zip") != "Zip":
            raise TemplateError(f"{logical_id}: only Zip functions can run locally")
        code_uri = self.resolver.resolve(props.get("CodeUri"))
        handler = self.resolver.resolve(props.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise TemplateError(f"{logical_id}: CodeUri and Handler must be local strings")
        physical = self.resolver.physical(logical_id)
        return FunctionSpec(
            logical_id=logical_id,
            name=physical.ref,
            arn=physical.attributes["Arn"],
            code_dir=(self.root / code_uri).resolve(),
            handler=handler,
            memory_mb=int(self.resolver.resolve(props.get("MemorySize", DEFAULT_MEMORY_MB))),
            timeout_seconds=float(
                self.resolver.resolve(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS))
            ),
            environment=self.environment(logical_id),
        )

    def functions(self) -> dict[str, FunctionSpec]:
        """Every function of the template by logical id."""
        return {
            logical_id: self.function(logical_id)
            for logical_id in self.resources_of_type(FUNCTION_TYPE)
        }

    def resources(self, resource_type: str) -> list[ResourceSpec]:
        """Every resource of one type, with the properties CloudFormation would create it from.

        Call in dependency order: a property naming another resource's attribute that only its
        creation tells (a table's StreamArn) resolves once that resource is bound.
        """
        return [
            ResourceSpec(
                logical_id=logical_id,
                physical=self.resolver.physical(logical_id),
                properties=self.resolver.resolve(resource.get("Properties") or {}),
            )
            for logical_id, resource in self.resources_of_type(resource_type).items()
        ]

    def tables(self) -> list[ResourceSpec]:
        """Every DynamoDB table."""
        return self.resources(TABLE_TYPE)

    def http_api(self, logical_id: str | None = None) -> HttpApiSpec:
        """One HTTP API; without a logical id, the template's only one."""
        apis = self.http_api_ids()
        if logical_id is None:
            if len(apis) != 1:
                raise TemplateError(f"expected one HTTP API, found {sorted(apis) or 'none'}")
            logical_id = apis[0]
        if logical_id not in apis:
            raise TemplateError(f"no HTTP API {logical_id!r} in the template")
        resource = self.resources_of_type(HTTP_API_TYPE).get(logical_id, {})
        props = merge_globals(self._globals("HttpApi"), dict(resource.get("Properties") or {}))
        stage = str(self.resolver.resolve(props.get("StageName", DEFAULT_STAGE)))
        if stage != DEFAULT_STAGE:
            # A named stage prefixes every path with /<stage>; the local stack serves $default only.
            raise TemplateError(f"{logical_id}: only the $default stage is served locally")
        auth = props.get("Auth") or {}
        authorizers = self._lambda_authorizers(logical_id, auth.get("Authorizers") or {})
        default = auth.get("DefaultAuthorizer")
        return HttpApiSpec(
            logical_id=logical_id,
            api_id=self.resolver.physical(logical_id).ref,
            stage=stage,
            routes=tuple(self._routes(logical_id, default)),
            authorizers=authorizers,
        )

    def http_api_ids(self) -> list[str]:
        """Logical ids of the HTTP APIs, including SAM's implicit one if an event relies on it."""
        ids = list(self.resources_of_type(HTTP_API_TYPE))
        for _, props in self._http_api_events():
            if "ApiId" not in props and IMPLICIT_HTTP_API not in ids:
                ids.append(IMPLICIT_HTTP_API)
        return ids

    def _function_events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, event name, properties) of every function event of one SAM type."""
        events = []
        for logical_id in self.resources_of_type(FUNCTION_TYPE):
            props = self._function_properties(logical_id)
            for name, event in (props.get("Events") or {}).items():
                if event.get("Type") == event_type:
                    events.append((logical_id, str(name), dict(event.get("Properties") or {})))
        return events

    def _http_api_events(self) -> list[tuple[str, dict[str, Any]]]:
        return [(function, props) for function, _, props in self._function_events("HttpApi")]

    def stream_events(self) -> list[StreamEventSpec]:
        """Every `Type: DynamoDB` event, validated as CreateEventSourceMapping validates it.

        Call once the tables exist: a `!GetAtt Table.StreamArn` resolves only then.
        """
        return [
            self._stream_event(_MappingProperties(function, name, self.resolver.resolve(props)))
            for function, name, props in self._function_events(DYNAMODB_EVENT)
        ]

    def queue_events(self) -> list[QueueEventSpec]:
        """Every `Type: SQS` event, validated as CreateEventSourceMapping validates it."""
        return [
            self._queue_event(_MappingProperties(function, name, self.resolver.resolve(props)))
            for function, name, props in self._function_events(SQS_EVENT)
        ]

    @staticmethod
    def _stream_event(mapping: _MappingProperties) -> StreamEventSpec:
        props, where = mapping.props, mapping.where
        # A tumbling window changes the event and the response (state, window); not emulated.
        mapping.refuse("TumblingWindowInSeconds", "StartingPositionTimestamp")
        stream = props.get("Stream")
        if not isinstance(stream, str) or ":dynamodb:" not in stream or "/stream/" not in stream:
            raise TemplateError(f"{where}: Stream must be a DynamoDB stream ARN, got {stream!r}")
        position = props.get("StartingPosition")
        if position not in STREAM_STARTING_POSITIONS:
            raise TemplateError(
                f"{where}: StartingPosition must be one of {', '.join(STREAM_STARTING_POSITIONS)}"
            )
        record_age = int(props.get("MaximumRecordAgeInSeconds", -1))
        if record_age != -1 and not MIN_RECORD_AGE_SECONDS <= record_age <= MAX_RECORD_AGE_SECONDS:
            raise TemplateError(f"{where}: MaximumRecordAgeInSeconds {record_age} is not valid")
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        return StreamEventSpec(
            **mapping.common(DEFAULT_STREAM_BATCH_SIZE, MAX_STREAM_BATCH_SIZE),
            stream_arn=stream,
            starting_position=str(position),
            maximum_retry_attempts=mapping.integer(
                "MaximumRetryAttempts", -1, 0, MAX_RETRY_ATTEMPTS
            ),
            maximum_record_age_seconds=record_age,
            bisect_batch_on_function_error=flag(props.get("BisectBatchOnFunctionError")),
            parallelization_factor=mapping.integer(
                "ParallelizationFactor", 1, 1, MAX_PARALLELIZATION_FACTOR
            ),
            on_failure_destination=None if on_failure is None else str(on_failure),
        )

    @staticmethod
    def _queue_event(mapping: _MappingProperties) -> QueueEventSpec:
        queue = mapping.props.get("Queue")
        if not isinstance(queue, str) or not queue.startswith("arn:") or ":sqs:" not in queue:
            raise TemplateError(f"{mapping.where}: Queue must be an SQS queue ARN, got {queue!r}")
        common = mapping.common(DEFAULT_QUEUE_BATCH_SIZE, MAX_QUEUE_BATCH_SIZE)
        if (
            common["batch_size"] > MAX_QUEUE_BATCH_SIZE_WITHOUT_WINDOW
            and not common["maximum_batching_window_seconds"]
        ):
            raise TemplateError(
                f"{mapping.where}: a BatchSize over {MAX_QUEUE_BATCH_SIZE_WITHOUT_WINDOW} needs "
                "MaximumBatchingWindowInSeconds"
            )
        return QueueEventSpec(**common, queue_arn=queue)

    def _routes(self, api_logical_id: str, default_authorizer: Any) -> list[Route]:
        routes = []
        for function_id, props in self._http_api_events():
            api = _ref_target(props["ApiId"]) if "ApiId" in props else IMPLICIT_HTTP_API
            if api != api_logical_id:
                continue
            if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
                raise TemplateError(f"{function_id}: only payload format 2.0 is served locally")
            path = self.resolver.resolve(props.get("Path", DEFAULT_ROUTE))
            method = self.resolver.resolve(props.get("Method", "ANY"))
            authorizer = (props.get("Auth") or {}).get("Authorizer", default_authorizer)
            timeout = props.get("TimeoutInMillis", MAX_INTEGRATION_TIMEOUT_MS)
            routes.append(
                Route(
                    method=str(method).upper(),
                    path=str(path),
                    function=function_id,
                    authorizer=None if authorizer in (None, NO_AUTHORIZER) else str(authorizer),
                    timeout_ms=min(int(timeout), MAX_INTEGRATION_TIMEOUT_MS),
                )
            )
        return routes

    def _lambda_authorizers(
        self, api_logical_id: str, declared: Mapping[str, Any]
    ) -> dict[str, LambdaAuthorizerSpec]:
        arns = {
            self.resolver.physical(function_id).attributes["Arn"]: function_id
            for function_id in self.resources_of_type(FUNCTION_TYPE)
        }
        authorizers = {}
        for name, config in declared.items():
            if "FunctionArn" not in config:
                continue  # a JWT authorizer: a route that uses it fails loudly at request time
            arn = self.resolver.resolve_str(config["FunctionArn"])
            if arn not in arns:
                raise TemplateError(f"{api_logical_id}.{name}: {arn} is not a template function")
            identity = config.get("Identity") or {}
            authorizers[name] = LambdaAuthorizerSpec(
                name=name,
                function=arns[arn],
                payload_version=self.resolver.resolve_str(
                    config.get("AuthorizerPayloadFormatVersion", "2.0")
                ),
                simple_responses=bool(self.resolver.resolve(config.get("EnableSimpleResponses"))),
                identity_headers=tuple(
                    str(header) for header in self.resolver.resolve(identity.get("Headers") or [])
                ),
                identity_query_strings=tuple(
                    str(name) for name in self.resolver.resolve(identity.get("QueryStrings") or [])
                ),
                ttl_seconds=int(self.resolver.resolve(identity.get("ReauthorizeEvery", 0))),
            )
        return authorizers


class _MappingProperties:
    """One event source mapping's resolved properties, with the checks every kind shares."""

    def __init__(self, function: str, event: str, props: Mapping[str, Any]) -> None:
        self.function = function
        self.event = event
        self.props = props
        self.where = f"{function}.{event}"

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        """A bounded integer; a default outside the range (-1: "until the record expires") may
        also be written."""
        value = int(self.props.get(key, default))
        if not low <= value <= high and value != default:
            raise TemplateError(f"{self.where}: {key} {value} is outside {low}..{high}")
        return value

    def refuse(self, *keys: str) -> None:
        """Properties that change what the function sees or answers, and are not emulated."""
        unsupported = sorted(set(self.props) & set(keys))
        if unsupported:
            raise TemplateError(f"{self.where}: {', '.join(unsupported)} is not emulated locally")

    def common(self, default_batch_size: int, max_batch_size: int) -> dict[str, Any]:
        """The `EventSourceSpec` fields, validated."""
        response_types = list(self.props.get("FunctionResponseTypes") or [])
        if set(response_types) - {REPORT_BATCH_ITEM_FAILURES}:
            raise TemplateError(
                f"{self.where}: FunctionResponseTypes {response_types} is not valid"
            )
        filters = (self.props.get("FilterCriteria") or {}).get("Filters") or []
        if len(filters) > MAX_FILTERS:
            raise TemplateError(f"{self.where}: at most {MAX_FILTERS} filters per event source")
        patterns = []
        for item in filters:
            pattern = item.get("Pattern") if isinstance(item, dict) else None
            if not isinstance(pattern, str):
                raise TemplateError(f"{self.where}: every filter needs a Pattern string")
            patterns.append(pattern)
        return {
            "function": self.function,
            "event": self.event,
            "batch_size": self.integer("BatchSize", default_batch_size, 1, max_batch_size),
            "maximum_batching_window_seconds": self.integer(
                "MaximumBatchingWindowInSeconds", 0, 0, MAX_BATCHING_WINDOW_SECONDS
            ),
            "report_batch_item_failures": REPORT_BATCH_ITEM_FAILURES in response_types,
            "filter_patterns": tuple(patterns),
            "enabled": flag(self.props.get("Enabled", True)),
        }

"""CloudFormation as plain data: the short-tag YAML dialect and the intrinsic functions.

The local stack reads `template.yaml` itself, so it needs what CloudFormation does before anything
runs: turn `!Ref X` into `{"Ref": "X"}` and later resolve it to a physical name. Only the functions
a SAM template uses for names, ARNs and environment values are evaluated; anything else raises
`TemplateError` instead of passing a half-resolved value to a handler.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Short tags whose long form is "Fn::<Name>"; `!Ref` and `!Condition` keep their bare names.
_FN_TAGS = {
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "GetAtt",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
}


class TemplateError(ValueError):
    """The template says something the local stack cannot honour faithfully."""


# libyaml's parser when PyYAML was built with it: the pure-Python one costs ~0.1 s per template.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that also accepts CloudFormation's short tags."""


def _construct_tag(loader: Any, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix not in _FN_TAGS:
        raise TemplateError(f"unknown CloudFormation tag !{suffix}")
    if suffix == "GetAtt" and isinstance(value, str):
        # `!GetAtt Res.Attr` is the only tag whose scalar form differs from its long form.
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template (YAML or JSON) with short tags as long-form dicts."""
    with path.open(encoding="utf-8") as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return document


@dataclass(frozen=True)
class PseudoParameters:
    """The `AWS::*` values a template may refer to; moto's defaults for account and region."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "scim-local"
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def as_refs(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
        }


@dataclass(frozen=True)
class PhysicalResource:
    """What a resource's `Ref` and `GetAtt` resolve to once it "exists" locally."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


def flag(value: Any) -> bool:
    """A CloudFormation boolean: YAML true/false or the strings "true"/"false"."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


class _NoValue:
    """`AWS::NoValue`: removes the key or list item it stands in."""


NO_VALUE = _NoValue()

DEFAULT_EVENT_BUS = "default"

# How CloudFormation names a resource it creates, by type; the local stack registers more types as
# it learns to create them (queues, buses), so adding a resource type never touches the resolver.
Namer = Callable[[str, Mapping[str, Any], PseudoParameters], PhysicalResource]


def _lambda_name(logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters) -> Any:
    return props.get("FunctionName") or f"{pseudo.stack_name}-{logical_id}"


def _name_function(
    logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    name = str(_lambda_name(logical_id, props, pseudo))
    arn = f"arn:{pseudo.partition}:lambda:{pseudo.region}:{pseudo.account_id}:function:{name}"
    return PhysicalResource(ref=name, attributes={"Arn": arn})


def _name_table(
    logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    name = str(props.get("TableName") or f"{pseudo.stack_name}-{logical_id}")
    arn = f"arn:{pseudo.partition}:dynamodb:{pseudo.region}:{pseudo.account_id}:table/{name}"
    return PhysicalResource(ref=name, attributes={"Arn": arn})


def _name_queue(
    logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    name = str(props.get("QueueName") or f"{pseudo.stack_name}-{logical_id}")
    if flag(props.get("FifoQueue")) and not name.endswith(".fifo"):
        name += ".fifo"  # SQS requires the suffix; CloudFormation adds it to names it generates
    arn = f"arn:{pseudo.partition}:sqs:{pseudo.region}:{pseudo.account_id}:{name}"
    url = f"https://sqs.{pseudo.region}.{pseudo.url_suffix}/{pseudo.account_id}/{name}"
    # A queue's Ref is its URL.
    return PhysicalResource(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})


def _name_event_bus(
    logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    name = str(props.get("Name") or f"{pseudo.stack_name}-{logical_id}")
    arn = f"arn:{pseudo.partition}:events:{pseudo.region}:{pseudo.account_id}:event-bus/{name}"
    return PhysicalResource(ref=name, attributes={"Arn": arn, "Name": name})


def _name_rule(
    logical_id: str, props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    name = str(props.get("Name") or f"{pseudo.stack_name}-{logical_id}")
    # EventBusName may be a bus's name or its ARN.
    bus = str(props.get("EventBusName") or DEFAULT_EVENT_BUS).rsplit("/", 1)[-1]
    prefix = f"arn:{pseudo.partition}:events:{pseudo.region}:{pseudo.account_id}:rule/"
    if bus == DEFAULT_EVENT_BUS:
        return PhysicalResource(ref=name, attributes={"Arn": prefix + name})
    # CloudFormation's physical id of a rule on a custom bus names both.
    return PhysicalResource(ref=f"{bus}|{name}", attributes={"Arn": f"{prefix}{bus}/{name}"})


def _name_http_api(
    logical_id: str, _props: Mapping[str, Any], _pseudo: PseudoParameters
) -> PhysicalResource:
    return PhysicalResource(ref=local_api_id(logical_id))


def _name_other(
    logical_id: str, _props: Mapping[str, Any], pseudo: PseudoParameters
) -> PhysicalResource:
    arn = f"arn:{pseudo.partition}:local:{pseudo.region}:{pseudo.account_id}:{logical_id}"
    return PhysicalResource(ref=logical_id, attributes={"Arn": arn})


NAMERS: dict[str, Namer] = {
    "AWS::Serverless::Function": _name_function,
    "AWS::Lambda::Function": _name_function,
    "AWS::DynamoDB::Table": _name_table,
    "AWS::Serverless::HttpApi": _name_http_api,
    "AWS::ApiGatewayV2::Api": _name_http_api,
    "AWS::SQS::Queue": _name_queue,
    "AWS::Events::EventBus": _name_event_bus,
    "AWS::Events::Rule": _name_rule,
}


def local_api_id(logical_id: str) -> str:
    """A stable 10-character API id, shaped like API Gateway's, for an API's logical id."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    number = int.from_bytes(logical_id.encode(), "big") % (36**10)
    out = []
    for _ in range(10):
        number, rest = divmod(number, 36)
        out.append(digits[rest])
    return "".join(out)


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against parameters, conditions and physical resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        pseudo: PseudoParameters,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self._template = template
        self._pseudo = pseudo
        self._parameters = dict(parameters or {})
        self._physical: dict[str, PhysicalResource] = {}
        self._conditions: dict[str, bool] = {}

    @property
    def pseudo(self) -> PseudoParameters:
        return self._pseudo

    def bind(self, logical_id: str, resource: PhysicalResource) -> None:
        """Record what a resource really is once created (e.g. a table's StreamArn from moto)."""
        self._physical[logical_id] = resource

    def physical(self, logical_id: str) -> PhysicalResource:
        """The physical resource behind a logical id, named as CloudFormation would."""
        if logical_id not in self._physical:
            resource = self._template["Resources"].get(logical_id)
            if not isinstance(resource, dict):
                raise TemplateError(f"no resource {logical_id!r} in the template")
            namer = NAMERS.get(str(resource.get("Type")), _name_other)
            props = self._resolvable(resource.get("Properties") or {})
            self._physical[logical_id] = namer(logical_id, props, self._pseudo)
        return self._physical[logical_id]

    def _resolvable(self, properties: dict[str, Any]) -> dict[str, Any]:
        """The properties that can be resolved now. Naming a resource needs only a few of them;
        others may refer to what exists only once the world is up (a table's StreamArn)."""
        resolved: dict[str, Any] = {}
        for name, value in properties.items():
            try:
                item = self.resolve(value)
            except TemplateError:
                continue
            if item is not NO_VALUE:
                resolved[name] = item
        return resolved

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic function evaluated; `AWS::NoValue` entries dropped."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(str(argument))
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            if key.startswith("Fn::"):
                return self._function(key[4:], argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def resolve_str(self, value: Any) -> str:
        """A resolved scalar as CloudFormation passes it on: YAML booleans become "true"/"false"."""
        resolved = self.resolve(value)
        if isinstance(resolved, bool):
            return "true" if resolved else "false"
        if isinstance(resolved, dict | list):
            raise TemplateError(f"expected a scalar, got {resolved!r}")
        return str(resolved)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            conditions = self._template.get("Conditions") or {}
            if name not in conditions:
                raise TemplateError(f"no condition {name!r} in the template")
            self._conditions[name] = bool(self.resolve(conditions[name]))
        return self._conditions[name]

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        pseudo = self._pseudo.as_refs()
        if name in pseudo:
            return pseudo[name]
        parameters = self._template.get("Parameters") or {}
        if name in parameters:
            if name in self._parameters:
                return self._parameters[name]
            if "Default" not in parameters[name]:
                raise TemplateError(f"parameter {name!r} has no Default; pass it explicitly")
            return parameters[name]["Default"]
        return self.physical(name).ref

    def _get_att(self, logical_id: str, attribute: str) -> str:
        attributes = self.physical(logical_id).attributes
        if attribute not in attributes:
            raise TemplateError(f"{logical_id}.{attribute} is not available locally")
        return attributes[attribute]

    def _function(self, name: str, argument: Any) -> Any:
        if name == "GetAtt":
            target = self.resolve(argument)
            if isinstance(target, str):
                target = target.split(".", 1)
            return self._get_att(str(target[0]), str(target[1]))
        if name == "Sub":
            return self._sub(argument)
        if name == "Join":
            separator, items = argument
            return str(separator).join(self.resolve_str(item) for item in self.resolve(items))
        if name == "Select":
            index, items = argument
            return self.resolve(items)[int(self.resolve(index))]
        if name == "Split":
            separator, text = argument
            return self.resolve_str(text).split(str(separator))
        if name == "If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = argument
            return self.resolve_str(left) == self.resolve_str(right)
        if name == "Not":
            return not self.resolve(argument[0])
        if name == "And":
            return all(self.resolve(item) for item in argument)
        if name == "Or":
            return any(self.resolve(item) for item in argument)
        if name == "FindInMap":
            mapping, first, second = (self.resolve_str(item) for item in argument)
            return self._template["Mappings"][mapping][first][second]
        if name == "Base64":
            return base64.b64encode(self.resolve_str(argument).encode()).decode()
        if name == "GetAZs":
            return [f"{self._pseudo.region}{zone}" for zone in "abc"]
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], self.resolve(argument[1])
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"  # `${!Literal}` escapes a placeholder
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self.resolve_str({"Ref": name})

        return _SUB_VARIABLE.sub(replace, str(text))

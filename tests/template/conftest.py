"""The repository's template.yaml, read as CloudFormation reads it, for the template checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

FUNCTION = "AWS::Serverless::Function"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (`!Ref x`) read as their long forms (`{Ref: x}`)."""


def _short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    document = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(document, dict), f"{path} is not a mapping"
    return document


def merge_globals(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge key by key, lists add up, anything else the resource wins."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        intrinsic = any(k == "Ref" or k.startswith("Fn::") for k in (*global_value, *local_value))
        if intrinsic:
            return local_value
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(merged[key], value) if key in merged else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    if not TEMPLATE.exists():
        pytest.fail("template.yaml is missing")
    return load_template()


@pytest.fixture(scope="session")
def resources(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"])


@pytest.fixture(scope="session")
def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every SAM function's Properties with the template's Globals applied."""
    global_props = (template.get("Globals") or {}).get("Function") or {}
    found = {
        logical_id: merge_globals(global_props, resource.get("Properties") or {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == FUNCTION
    }
    assert found, "the template declares no function"
    return found

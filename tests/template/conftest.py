"""The repository's template.yaml, read as CloudFormation reads it, for the template checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from provisioning.local import cfn

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

FUNCTION = "AWS::Serverless::Function"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as the local stack reads it: one YAML reader for short tags."""
    return cfn.load_template(path)


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

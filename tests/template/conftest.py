"""The repository's template.yaml, read as CloudFormation reads it, for the template checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from provisioning.local import cfn
from provisioning.local.template import merge_globals

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"

FUNCTION = "AWS::Serverless::Function"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as the local stack reads it: one YAML reader for short tags."""
    return cfn.load_template(path)


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

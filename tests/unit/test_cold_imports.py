"""What each function's INIT loads, checked in a fresh interpreter by module name, not by time:
a regression here is a dependency that came back into a cold start (issue 11; `make bench`
prints the milliseconds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

_PROBE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""

# The X-Ray SDK: ~150 ms of INIT, left out of every function (see http/lambda_handler.py).
XRAY = "aws_xray_sdk"
# scim2-models (with pydantic model building and lark's grammar): ~300 ms of INIT.
SCIM_MODELS = "scim2_models"
# The search, query and DynamoDB plumbing of the resource functions.
STORE = "provisioning.store"

FORBIDDEN = {
    # The authorizer reads one secret and compares digests: no SCIM, no ASGI adapter.
    "authorizer": {XRAY, SCIM_MODELS, "lark", "mangum"},
    "users": {XRAY},
    "groups": {XRAY},
    # Discovery renders the SCIM models; it reads and writes nothing.
    "discovery": {XRAY, STORE, "provisioning.scim.search"},
    "admin": {XRAY},
    # Stream and queue workers move stored items and events: no SCIM models, no ASGI.
    "purge": {XRAY, SCIM_MODELS, "lark", "mangum"},
    "publisher": {XRAY, SCIM_MODELS, "lark", "mangum"},
    "fanout": {XRAY, SCIM_MODELS, "lark", "mangum"},
}


def modules_loaded_by(function: str) -> set[str]:
    """The names in sys.modules after importing the function's app.py as Lambda does, with the
    environment the template gives it; a package counts as loaded with any of its modules."""
    env = os.environ | {
        "TABLE_NAME": "cold-import-table",
        "EVENT_BUS_NAME": "cold-import-bus",
        "FANOUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/cold-import",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_SERVICE_NAME": f"scim-{function}",
    }
    completed = subprocess.run(  # noqa: S603 - our own interpreter and file
        [sys.executable, "-c", _PROBE, str(REPO_ROOT / "functions" / function / "app.py")],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    names: list[str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return {".".join(name.split(".")[:depth]) for name in names for depth in (1, 2, 3)}


@pytest.mark.parametrize("function", sorted(FORBIDDEN))
def test_a_function_cold_start_leaves_out_what_it_does_not_use(function):
    loaded = modules_loaded_by(function)

    assert loaded & FORBIDDEN[function] == set()


def test_the_probe_sees_what_a_function_does_load():
    # Guards the test above against a probe that sees nothing: users needs the SCIM models.
    assert {SCIM_MODELS, "mangum", "boto3"} <= modules_loaded_by("users")

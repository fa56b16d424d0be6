"""`make invoke`: every function of the template has a sample event in events/ and runs on it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from provisioning.local.invoke import function_id, invoke
from provisioning.local.stack import LocalStack
from tests.conftest import EVENTS, REPO_ROOT
from tests.template.conftest import load_template

FUNCTION_FOLDERS = sorted(
    resource["Properties"]["CodeUri"].strip("/").split("/")[-1]
    for resource in load_template()["Resources"].values()
    if resource["Type"] == "AWS::Serverless::Function"
)
# A sample is named for the function that takes it: events/<code folder>_<what>.json.
SAMPLES = sorted(
    (folder, path.name) for folder in FUNCTION_FOLDERS for path in EVENTS.glob(f"{folder}_*.json")
)


def test_every_function_has_a_sample_event() -> None:
    assert {folder for folder, _ in SAMPLES} == set(FUNCTION_FOLDERS)


@pytest.mark.parametrize(("folder", "sample"), SAMPLES)
def test_every_sample_runs_on_its_function(stack: LocalStack, folder: str, sample: str) -> None:
    result = invoke(stack, folder, json.loads((EVENTS / sample).read_text()))
    if folder == "authorizer":
        # The sample's token is registered first, so it authenticates as the org it names.
        assert result == {"isAuthorized": True, "context": {"orgId": "contoso"}}
    elif "Records" in json.loads((EVENTS / sample).read_text()):
        assert result == {"batchItemFailures": []}
    else:
        assert 200 <= result["statusCode"] < 500, result
        assert result["statusCode"] != 401, "the sample's organization did not authenticate"


def test_a_function_is_named_by_logical_id_or_folder(stack: LocalStack) -> None:
    functions = stack.runtime.functions
    assert function_id("UsersFunction", functions) == "UsersFunction"
    assert function_id("users", functions) == "UsersFunction"
    with pytest.raises(SystemExit, match="no function 'nope'"):
        function_id("nope", functions)


def test_make_invoke_prints_only_the_result_on_stdout() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "provisioning.local.invoke",
            "authorizer",
            "events/authorizer_request.json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == {"isAuthorized": True, "context": {"orgId": "contoso"}}

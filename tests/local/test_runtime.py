"""The function runtime: concurrent invocations run at once, each in a container of its own that
sees its function's environment and its own Powertools metric set; idle containers are reused;
nothing of it outlives the runtime. The handlers meet at a barrier, so an invocation that waited
for another to finish (as when every invocation shared one thread) fails the test by timing out."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from provisioning.local.lambdas import FunctionError, FunctionRuntime
from provisioning.local.template import FunctionSpec

# Handlers reach it through this module (their own modules are imported once per container).
MEETING: dict[str, threading.Barrier] = {}

HANDLER = """\
import os
import sys

from aws_lambda_powertools import Metrics

metrics = Metrics(namespace="RuntimeTest")


def handler(event, context):
    barrier = sys.modules["tests.local.test_runtime"].MEETING.get(event.get("meet", ""))
    metrics.add_metric(name=os.environ["ROLE"], unit="Count", value=1)
    if "write" in event:
        os.environ["WRITTEN"] = event["write"]
    if barrier is not None:
        barrier.wait(timeout=5)
    return {
        "role": os.environ["ROLE"],
        "only_a": os.environ.get("ONLY_A"),
        "written": os.environ.get("WRITTEN"),
        "metrics": sorted(metrics.metric_set),
        "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
        "module": __name__,
    }
"""


def spec(folder: Path, logical_id: str, environment: dict[str, str]) -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        name=f"runtime-{logical_id}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:runtime-{logical_id}",
        code_dir=folder,
        handler="app.handler",
        memory_mb=128,
        timeout_seconds=10,
        environment=environment,
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[FunctionRuntime]:
    folder = tmp_path / "functions" / "probe"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(textwrap.dedent(HANDLER))
    functions = {
        "A": spec(folder, "A", {"ROLE": "a", "ONLY_A": "yes"}),
        "B": spec(folder, "B", {"ROLE": "b"}),
    }
    runtime = FunctionRuntime(functions)
    try:
        yield runtime
    finally:
        runtime.close()
        MEETING.clear()


def meeting(name: str, parties: int) -> str:
    MEETING[name] = threading.Barrier(parties)
    return name


def at_once(runtime: FunctionRuntime, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(runtime.invoke, function, event) for function, event in calls]
        return [future.result() for future in futures]


def test_concurrent_invocations_of_one_function_run_at_once_in_two_containers(runtime):
    meet = meeting("one function", 2)
    first, second = at_once(runtime, [("A", {"meet": meet}), ("A", {"meet": meet})])
    assert first["role"] == second["role"] == "a"
    assert first["module"] != second["module"]  # one import per container
    assert runtime.containers("A") == 2


def test_concurrent_functions_each_see_their_own_environment(runtime):
    meet = meeting("two functions", 4)
    results = at_once(runtime, [("A", {"meet": meet}), ("B", {"meet": meet})] * 2)
    assert [(r["role"], r["only_a"]) for r in results] == [("a", "yes"), ("b", None)] * 2
    assert [r["function"] for r in results] == ["runtime-A", "runtime-B"] * 2
    # The test's own thread sees neither function's variables.
    assert "ROLE" not in os.environ
    assert "ONLY_A" not in os.environ


def test_an_environment_write_stays_in_its_container(runtime):
    meet = meeting("write", 2)
    writer, other = at_once(
        runtime, [("A", {"meet": meet, "write": "mine"}), ("A", {"meet": meet})]
    )
    assert writer["written"] == "mine"
    assert other["written"] is None
    assert "WRITTEN" not in os.environ
    # The container that wrote keeps it for its next invocation, as a warm environment does.
    assert runtime.invoke("B", {})["written"] is None


def test_each_container_has_its_own_powertools_metric_set(runtime):
    """Metrics instances share their metric set through class attributes; two functions'
    containers must not add to (and flush) one set."""
    meet = meeting("metrics", 2)
    a, b = at_once(runtime, [("A", {"meet": meet}), ("B", {"meet": meet})])
    assert a["metrics"] == ["a"]
    assert b["metrics"] == ["b"]


def test_an_idle_container_serves_the_next_invocation(runtime):
    modules = {runtime.invoke("A", {})["module"] for _ in range(5)}
    assert len(modules) == 1
    assert runtime.containers("A") == 1
    assert runtime.containers("B") == 0


def test_closing_the_runtime_restores_the_process_environment(tmp_path: Path):
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "app.py").write_text(textwrap.dedent(HANDLER))
    runtime = FunctionRuntime({"A": spec(folder, "A", {"ROLE": "a"})})
    assert type(os.environ) is not os._Environ  # the per-container view
    module = runtime.invoke("A", {})["module"]
    runtime.close()
    assert type(os.environ) is os._Environ
    assert module not in sys.modules
    with pytest.raises(FunctionError):
        runtime.invoke("A", {})

"""Lambda's execution model, in process: one container per function, JSON in and out.

Each function's handler module is imported once, by file path under a name no other function or
stack shares, so module-level state (clients, apps, caches) lives as long as a warm container does.
Events and results cross a JSON round trip, as they do through the Lambda service, so a handler
that mutates its event or returns something unserializable fails here as it would on AWS.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

from provisioning.local.template import FunctionSpec
from provisioning.local.world import patched_environment

logger = logging.getLogger("provisioning.local")

Handler = Callable[[Any, Any], Any]
T = TypeVar("T")

# Distinguishes the modules of two stacks alive in one process (e.g. consecutive tests).
_RUNTIME_IDS = itertools.count(1)


class FunctionError(RuntimeError):
    """A function failed as Lambda reports it: an exception, a timeout or an unserializable
    result. The cause is chained; the gateway turns it into a 500."""

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"{function}: {reason}")
        self.function = function
        self.reason = reason


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler, with the attributes Powertools reads."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the function's configured timeout, as Lambda counts them."""
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class _Container:
    spec: FunctionSpec
    module: ModuleType
    handler: Handler


def _lambda_environment(spec: FunctionSpec) -> dict[str, str]:
    """Variables Lambda itself sets in every execution environment, then the template's."""
    reserved = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
    }
    return {**reserved, **spec.environment}


class FunctionRuntime:
    """Invokes the template's functions by logical id, each in its own long-lived "container".

    Every invocation runs on one worker thread with its own event loop, as a handler runs on the
    Lambda runtime's main thread (Mangum needs a current loop there). That also serializes them:
    the process has one `os.environ`, and each function sees its own variables while it runs.
    A function that invokes another from that thread runs it inline.
    """

    def __init__(self, functions: Mapping[str, FunctionSpec]) -> None:
        self._specs = dict(functions)
        self._containers: dict[str, _Container] = {}
        self._prefix = f"_local_lambda_{next(_RUNTIME_IDS)}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: threading.Thread | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"{self._prefix}_runtime", initializer=self._adopt
        )

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return self._specs

    def _adopt(self) -> None:
        self._worker = threading.current_thread()
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

    def _on_worker(self, call: Callable[[], Any]) -> Any:
        if threading.current_thread() is self._worker:
            return call()
        return self._executor.submit(call).result()

    def serialized(self, call: Callable[[], T]) -> T:
        """Run `call` on the invocation thread, between invocations, and return its result.

        Event source pollers read their sources here, so a poll never sees a transaction that a
        running function has half applied, and the functions it invokes run inline.
        """
        result: T = self._on_worker(call)
        return result

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Run a function synchronously (RequestResponse) and return its JSON result."""
        spec = self._specs.get(logical_id)
        if spec is None:
            raise FunctionError(logical_id, "no such function in the template")
        payload = json.loads(json.dumps(event))
        return self._on_worker(lambda: self._invoke(spec, payload))

    def _invoke(self, spec: FunctionSpec, payload: Any) -> Any:
        logical_id = spec.logical_id
        with patched_environment(_lambda_environment(spec), ()):
            container = self._container(spec)
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            context = LambdaContext(
                function_name=spec.name,
                function_version="$LATEST",
                invoked_function_arn=spec.arn,
                memory_limit_in_mb=spec.memory_mb,
                aws_request_id=request_id,
                log_group_name=f"/aws/lambda/{spec.name}",
                log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
                deadline=started + spec.timeout_seconds,
            )
            try:
                result = container.handler(payload, context)
            except Exception as exc:
                logger.exception("%s raised an unhandled exception", logical_id)
                raise FunctionError(logical_id, type(exc).__name__) from exc
        elapsed = time.monotonic() - started
        if elapsed > spec.timeout_seconds:
            # Lambda would have stopped the function; the caller sees the failure, not the result.
            logger.error("%s: task timed out after %.2f seconds", logical_id, elapsed)
            raise FunctionError(logical_id, "Task timed out")
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            logger.exception("%s returned a result that is not JSON", logical_id)
            raise FunctionError(logical_id, "Runtime.MarshalError") from exc

    def warm(self, logical_id: str) -> None:
        """Import a function's handler now (its INIT phase) instead of on the first request."""
        spec = self._specs[logical_id]

        def init() -> None:
            with patched_environment(_lambda_environment(spec), ()):
                self._container(spec)

        self._on_worker(init)

    def close(self) -> None:
        """Drop every container and the worker, so nothing of this runtime stays alive."""

        def release() -> None:
            for container in self._containers.values():
                sys.modules.pop(container.module.__name__, None)
            self._containers.clear()
            if self._loop is not None:
                self._loop.close()

        self._on_worker(release)
        self._executor.shutdown(wait=True)

    def _container(self, spec: FunctionSpec) -> _Container:
        container = self._containers.get(spec.logical_id)
        if container is None:
            try:
                container = self._load(spec)
            except Exception as exc:
                logger.exception("%s failed to initialize", spec.logical_id)
                raise FunctionError(spec.logical_id, "Runtime.ImportModuleError") from exc
            self._containers[spec.logical_id] = container
        return container

    def _load(self, spec: FunctionSpec) -> _Container:
        module_path, _, attribute = spec.handler.rpartition(".")
        if not module_path or not attribute:
            raise ValueError(f"handler {spec.handler!r} is not <module>.<function>")
        source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        name = f"{self._prefix}_{spec.logical_id}_{module_path.replace('.', '_')}"
        module_spec = importlib.util.spec_from_file_location(name, source)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {source}")
        module = importlib.util.module_from_spec(module_spec)
        # Lambda puts the code folder on sys.path; only for the import here, so two functions'
        # folders never shadow each other afterwards.
        sys.path.insert(0, str(spec.code_dir))
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            sys.path.remove(str(spec.code_dir))
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise AttributeError(f"{source} has no callable {attribute!r}")
        return _Container(spec=spec, module=module, handler=handler)

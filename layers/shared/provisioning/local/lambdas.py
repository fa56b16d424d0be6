"""Lambda's execution model, in process: containers per function, JSON in and out.

A container is one execution environment: its own thread with its own event loop (as a handler
runs on the Lambda runtime's main thread; Mangum needs a current loop there), its own import of
the handler module, by file path under a name no other container or stack shares, so module-level
state (clients, apps, caches) lives as long as a warm container does, and its own view of the
environment (`isolation`). A container runs one invocation at a time; concurrent invocations of a
function run at once in as many containers, created on demand (each a cold start) and kept warm
for the next invocations, as Lambda scales out. Events and results cross a JSON round trip, as they
do through the Lambda service, so a handler that mutates its event or returns something
unserializable fails here as it would on AWS.
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
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from provisioning.local import isolation
from provisioning.local.template import FunctionSpec

logger = logging.getLogger("provisioning.local")

Handler = Callable[[Any, Any], Any]

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


# Containers one function may have at once; an invocation beyond them waits for one to be free
# (Lambda would scale further, to the account's concurrency, then throttle).
MAX_CONTAINERS_PER_FUNCTION = 32
# One cold start at a time: a handler's folder is on sys.path while it is imported, and two
# functions' folders must never shadow each other.
_IMPORTS = threading.Lock()


class _Container:
    """One execution environment of a function: a thread of its own, with its event loop and its
    view of the environment, and the handler module imported there."""

    def __init__(self, spec: FunctionSpec, name: str) -> None:
        self.spec = spec
        self.name = name
        self.module: ModuleType | None = None
        self.handler: Handler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = isolation.ContainerExecutor(
            max_workers=1, thread_name_prefix=name, initializer=self._adopt
        )

    def _adopt(self) -> None:
        isolation.enter_container(_lambda_environment(self.spec))
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

    def run(self, call: Callable[[], Any]) -> Any:
        """Run `call` on the container's thread and wait for its result."""
        return self._thread.submit(call).result()

    def init(self) -> None:
        """The INIT phase: import the handler module (on the container's thread)."""
        self.run(self._import)

    def _import(self) -> None:
        spec = self.spec
        module_path, _, attribute = spec.handler.rpartition(".")
        if not module_path or not attribute:
            raise ValueError(f"handler {spec.handler!r} is not <module>.<function>")
        source = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        name = f"{self.name}_{module_path.replace('.', '_')}"
        module_spec = importlib.util.spec_from_file_location(name, source)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot load {source}")
        module = importlib.util.module_from_spec(module_spec)
        # Lambda puts the code folder on sys.path; only for the import here, so two functions'
        # folders never shadow each other afterwards.
        with _IMPORTS:
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
            sys.modules.pop(name, None)
            raise AttributeError(f"{source} has no callable {attribute!r}")
        self.module, self.handler = module, handler

    def close(self) -> None:
        """Forget the module and stop the thread (after the invocation it may be running)."""

        def release() -> None:
            if self._loop is not None:
                self._loop.close()

        if self.module is not None:
            sys.modules.pop(self.module.__name__, None)
        self._thread.submit(release)
        self._thread.shutdown(wait=True)


class _Pool:
    """A function's containers: an idle one serves the next invocation (the most recently used
    first, as Lambda prefers warm environments); none idle, a new one starts, up to the cap."""

    def __init__(self, spec: FunctionSpec, prefix: str) -> None:
        self.spec = spec
        self._prefix = prefix
        self._idle: list[_Container] = []
        self._all: list[_Container] = []
        self._changed = threading.Condition()
        self._closed = False

    @property
    def size(self) -> int:
        """How many containers the function has now."""
        with self._changed:
            return len(self._all)

    def acquire(self) -> _Container:
        """A container for one invocation, initialized; give it back with `release`."""
        with self._changed:
            while True:
                if self._closed:
                    raise FunctionError(self.spec.logical_id, "the runtime is closed")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) < MAX_CONTAINERS_PER_FUNCTION:
                    index = len(self._all)
                    container = _Container(self.spec, f"{self._prefix}_{index}")
                    self._all.append(container)
                    break
                self._changed.wait()
        try:
            container.init()
        except Exception as exc:
            # Lambda discards an environment whose INIT failed; the next invocation retries.
            with self._changed:
                self._all.remove(container)
                self._changed.notify()
            container.close()
            logger.exception("%s failed to initialize", self.spec.logical_id)
            raise FunctionError(self.spec.logical_id, "Runtime.ImportModuleError") from exc
        return container

    def release(self, container: _Container) -> None:
        with self._changed:
            self._idle.append(container)
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            containers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._changed.notify_all()
        for container in containers:
            container.close()


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
    """Invokes the template's functions by logical id, each invocation in a container of its own.

    Invocations run concurrently, as on Lambda: every call waits only for its own container, so
    HTTP requests, event source batches and functions invoking functions overlap in time. Each
    container sees its function's environment (`isolation`). What the stack's emulated services
    guarantee under that concurrency (every AWS call atomic, a transaction all at once) is the
    moto world's business; event source pollers order their own rounds.
    """

    def __init__(self, functions: Mapping[str, FunctionSpec]) -> None:
        self._specs = dict(functions)
        prefix = f"_local_lambda_{next(_RUNTIME_IDS)}"
        self._pools = {
            logical_id: _Pool(spec, f"{prefix}_{logical_id}")
            for logical_id, spec in self._specs.items()
        }
        isolation.install()
        self._closed = False

    @property
    def functions(self) -> Mapping[str, FunctionSpec]:
        return self._specs

    def containers(self, logical_id: str) -> int:
        """How many execution environments a function has now (its peak concurrency so far)."""
        return self._pools[logical_id].size

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Run a function synchronously (RequestResponse) and return its JSON result."""
        pool = self._pools.get(logical_id)
        if pool is None:
            raise FunctionError(logical_id, "no such function in the template")
        payload = json.loads(json.dumps(event))
        container = pool.acquire()
        try:
            return container.run(lambda: self._invoke(container, payload))
        finally:
            pool.release(container)

    def _invoke(self, container: _Container, payload: Any) -> Any:
        spec = container.spec
        logical_id = spec.logical_id
        assert container.handler is not None
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
        """Start one container of a function now (its INIT phase) instead of on the first
        request."""
        pool = self._pools[logical_id]
        pool.release(pool.acquire())

    def close(self) -> None:
        """Drop every container, so nothing of this runtime stays alive (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for pool in self._pools.values():
            pool.close()
        isolation.uninstall()

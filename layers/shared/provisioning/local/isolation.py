"""What Lambda keeps apart per execution environment and one Python process shares.

On AWS every concurrent invocation runs in its own execution environment: its own process, so its
own `os.environ` and its own copy of every library's module state. The local stack runs many
containers as threads of one process; two things they would otherwise share are kept apart here,
per container thread:

- the environment: while a runtime is alive `os.environ` is a view in which a container's thread
  sees its function's variables over the process's (a write there stays in the container, as it
  would in its own process), and every other thread sees the process's variables unchanged. So
  whatever reads the environment, at INIT or during an invocation (our settings, Powertools'
  POWERTOOLS_* variables, botocore's AWS_* ones, a handler's `os.environ.get`), reads its own
  function's value, with no lock and no restore step between invocations;
- Powertools Metrics' metric set, which lives in class attributes shared by every `Metrics()` of
  the process (by design, so that instances of one function add to one EMF blob): each container
  gets its own, or one invocation's flush would serialize and clear another's metrics mid-write.

Work a handler hands to a `ThreadPoolExecutor` runs in the submitting thread's context, so it
sees its container's view, as every thread of a Lambda execution environment sees the function's
environment (`submit` copies the context while a runtime is alive; Python's own does not).
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.metrics import Metrics

# Powertools Metrics' class attributes shared by all its instances in a process.
_METRICS_STATE = ("_metrics", "_dimensions", "_metadata", "_default_dimensions")


@dataclass
class ContainerScope:
    """One container's environment (None marks a variable it removed) and library state."""

    variables: dict[str, str | None]
    state: dict[str, dict[str, Any]] = field(default_factory=dict)


_current: ContextVar[ContainerScope | None] = ContextVar("local_lambda_container", default=None)


def enter_container(variables: Mapping[str, str]) -> ContainerScope:
    """Make the calling thread a container's: from now on it sees `variables` over the process's
    environment (and its own Powertools metric set). Called once on each container's thread;
    asyncio tasks created there copy the thread's context, so they see the same."""
    scope = ContainerScope(dict(variables))
    _current.set(scope)
    return scope


class _ContainerEnviron(os._Environ):  # type: ignore[type-arg]
    """`os.environ` with a container thread's variables layered over the process's. It shares
    the original mapping's storage, so writes from outside any container change the process
    environment exactly as before."""

    def __init__(self, original: os._Environ) -> None:  # type: ignore[type-arg]
        super().__init__(
            original._data,  # type: ignore[attr-defined]
            original.encodekey,
            original.decodekey,
            original.encodevalue,
            original.decodevalue,
        )

    def __getitem__(self, key: str) -> str:
        scope = _current.get()
        if scope is not None and key in scope.variables:
            value = scope.variables[key]
            if value is None:
                raise KeyError(key)
            return value
        value = super().__getitem__(key)
        assert isinstance(value, str)
        return value

    def __setitem__(self, key: str, value: str) -> None:
        scope = _current.get()
        if scope is None:
            super().__setitem__(key, value)
            return
        self.encodekey(key)
        self.encodevalue(value)  # the same type checks as the process environment
        scope.variables[key] = value

    def __delitem__(self, key: str) -> None:
        scope = _current.get()
        if scope is None:
            super().__delitem__(key)
            return
        if key not in self:
            raise KeyError(key)
        scope.variables[key] = None

    def __iter__(self) -> Iterator[str]:
        scope = _current.get()
        if scope is None:
            yield from super().__iter__()
            return
        overlay = dict(scope.variables)
        for key in super().__iter__():
            if key not in overlay:
                yield key
        yield from (key for key, value in overlay.items() if value is not None)

    def __len__(self) -> int:
        if _current.get() is None:
            return super().__len__()
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"environ({dict(self)!r})"


class _PerContainer:
    """A class attribute that is one object per container (and the original one elsewhere)."""

    def __init__(self, name: str, shared: dict[str, Any]) -> None:
        self.name = name
        self.shared = shared

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        scope = _current.get()
        if scope is None:
            return self.shared
        return scope.state.setdefault(self.name, {})


_lock = threading.Lock()
_users = 0
_original_environ: os._Environ | None = None  # type: ignore[type-arg]
_original_submit = ThreadPoolExecutor.submit


def _submit_in_context(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    """`ThreadPoolExecutor.submit` that runs `fn` in the submitter's context (its container)."""
    return _original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)


class ContainerExecutor(ThreadPoolExecutor):
    """A container's own thread: its tasks run in the context the thread entered its container
    with, not in the submitter's (the runtime submits from anywhere)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return _original_submit(self, fn, *args, **kwargs)


def install() -> None:
    """Keep containers apart from now on (reference counted: one call per live runtime)."""
    global _users, _original_environ
    with _lock:
        _users += 1
        if _users > 1:
            return
        _original_environ = os.environ
        # The view shares the original's storage: nothing is cleared or copied.
        os.environ = _ContainerEnviron(os.environ)  # noqa: B003
        for name in _METRICS_STATE:
            setattr(Metrics, name, _PerContainer(name, Metrics.__dict__[name]))
        ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Undo `install` once the last runtime that asked for it is closed."""
    global _users, _original_environ
    with _lock:
        _users -= 1
        if _users > 0:
            return
        if _original_environ is not None:
            os.environ = _original_environ  # noqa: B003
            _original_environ = None
        ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
        for name in _METRICS_STATE:
            attribute = Metrics.__dict__[name]
            if isinstance(attribute, _PerContainer):
                setattr(Metrics, name, attribute.shared)

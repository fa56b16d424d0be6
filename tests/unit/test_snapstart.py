"""SnapStart: environments resumed from one snapshot do not share the snapshot's random state."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from provisioning.http.snapstart import reseed_after_restore


class FakeSnapshotRestore(ModuleType):
    """The runtime's `snapshot_restore_py`: keeps the hooks; `restore` runs them as Lambda does
    after resuming from the snapshot."""

    def __init__(self) -> None:
        super().__init__("snapshot_restore_py")
        self.after_restore: list[Callable[[], Any]] = []

    def register_after_restore(self, hook: Callable[..., Any], *args: Any) -> None:
        self.after_restore.append(lambda: hook(*args))

    def restore(self) -> None:
        for hook in self.after_restore:
            hook()


@pytest.fixture
def runtime(monkeypatch):
    fake = FakeSnapshotRestore()
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", fake)
    return fake


@pytest.fixture
def random_state():
    state = random.getstate()
    yield
    random.setstate(state)


def jitter() -> list[float]:
    return [random.random() for _ in range(3)]  # noqa: S311 - as scim.service's retry jitter


def test_a_restored_environment_draws_other_jitter_than_the_snapshot(runtime, random_state):
    random.seed(7)
    in_snapshot = jitter()
    assert reseed_after_restore()

    random.seed(7)  # the state every environment resumes with
    runtime.restore()

    assert jitter() != in_snapshot


def test_without_snapstart_hooks_nothing_is_registered(monkeypatch):
    # A None entry makes `import snapshot_restore_py` raise ImportError, as outside Lambda.
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)

    assert reseed_after_restore() is False


def test_an_http_handler_registers_the_reseed(runtime, stack):
    from tests.handlers.test_handlers import load_function

    load_function("discovery")

    assert len(runtime.after_restore) == 1

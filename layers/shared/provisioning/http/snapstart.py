"""What a function needs when Lambda SnapStart resumes it from a snapshot.

One snapshot resumes many execution environments, so state drawn at INIT is shared by all of them
(the AWS guide "Handling uniqueness with Lambda SnapStart"). The `random` module's state is such
state: the retry jitter drawn from it (scim.service) would be the same sequence in every
environment, and their retries would collide instead of spreading out. It is seeded again from
the OS after each restore.

The hooks come from `snapshot_restore_py`, which Lambda's Python runtimes provide; elsewhere (tests,
the local stack, a runtime without it) there is nothing to register and nothing is.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any


def _after_restore_registrar() -> Callable[..., Any] | None:
    try:
        from snapshot_restore_py import (  # type: ignore[import-not-found,unused-ignore]
            register_after_restore,
        )
    except ImportError:
        return None
    registrar: Callable[..., Any] = register_after_restore
    return registrar


def reseed_after_restore() -> bool:
    """Register the reseeding of `random` for every restore; False where SnapStart's hooks do not
    exist."""
    register = _after_restore_registrar()
    if register is None:
        return False
    # `random.seed()` without an argument draws its seed from os.urandom.
    register(random.seed)
    return True

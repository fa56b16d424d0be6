"""`make bench` fuzz section: a long random run of the HTTP fuzz (tests/http/fuzzing.py) on the
local stack, printing the cases tried, the statuses seen, the 5xx answers and the rejected requests
that changed the table (both must be 0), and the first failures if there are any."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time

from hypothesis import HealthCheck, Phase, given, settings

from provisioning.local import LocalStack
from tests.conftest import REPO_ROOT
from tests.http import fuzzing
from tests.http.fuzzing import Fuzzer, FuzzRequest, Tally

CASES = int(os.environ.get("BENCH_FUZZ_CASES", "5000"))


def fuzz_run(cases: int = CASES) -> tuple[Tally, float]:
    """`cases` random requests (no shrinking: every case counts once), with the functions' logs
    and metrics silenced; returns the tally and the seconds it took."""
    tally = Tally()
    started = time.perf_counter()
    with (
        LocalStack.start(REPO_ROOT, parameters={"OrgRequestsPerSecond": "10000"}) as stack,
        contextlib.redirect_stdout(io.StringIO()),
    ):
        logging.disable(logging.CRITICAL)
        try:
            fuzzer = Fuzzer(stack)

            @settings(
                max_examples=cases,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(request=fuzzing.requests())
            def run(request: FuzzRequest) -> None:
                tally.add(request, fuzzer.check(request))

            run()
        finally:
            logging.disable(logging.NOTSET)
    return tally, time.perf_counter() - started


def print_fuzz() -> None:
    tally, seconds = fuzz_run()
    print(
        f"\nHTTP fuzz on the local stack (moto): {tally.cases:,} generated requests in "
        f"{seconds:.0f} s, through authorizer + handler:"
    )
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(tally.statuses.items()))
    print(f"  statuses seen                        {statuses}")
    print(f"  5xx answers                          {tally.server_errors}")
    print(f"  4xx answers that are no SCIM Error   {tally.not_scim}")
    print(f"  rejected requests changing the table {tally.changed_on_reject}")
    for request, outcome in tally.failures[:10]:
        print(f"  FAILED {outcome.status} {request!r}\n    {'; '.join(outcome.broken)[:500]}")

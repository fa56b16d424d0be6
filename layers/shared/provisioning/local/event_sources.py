"""Event source mappings, driven in process: poll every source until nothing is left to deliver.

On AWS, Lambda polls streams and queues on its own and invokes functions while the API has long
answered. Locally, tests want the effects of a request when it returns: `drain()` polls every
source, round after round, until a round finds nothing to do. A function may write what another
source (or its own) picks up, so a round can create work for the next; a bound on the rounds turns
a loop that would never settle into an error instead of a hung test. `make run` instead polls in a
background thread, as Lambda would, so effects appear a moment after the response.

Rounds run one at a time (a drain after each request, the background thread, concurrent callers
alike), so a source is never polled twice at once and a record is delivered once: one batch in
flight per shard or queue mapping, as Lambda does with ParallelizationFactor 1. Functions invoked
by a round run concurrently with everything else the runtime serves. A poll never sees a
transaction half applied because every call to the emulated services is atomic (the moto world
applies one at a time), not because functions are kept from running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from provisioning.local.lambdas import FunctionError, FunctionRuntime
from provisioning.local.template import EventSourceSpec

logger = logging.getLogger("provisioning.local")

DEFAULT_MAX_ROUNDS = 1_000
# Lambda polls a DynamoDB stream about four times a second; a little faster keeps `make run` brisk.
POLL_INTERVAL_SECONDS = 0.1
# A background tick stops after this many busy rounds and lets the next tick go on.
_ROUNDS_PER_TICK = 100
# Background polling waits this long after a failed attempt, doubling up to the cap.
_BACKOFF_SECONDS, _MAX_BACKOFF_SECONDS = 0.1, 5.0


SpecT = TypeVar("SpecT", bound=EventSourceSpec)


def enabled_specs(specs: Sequence[SpecT], polled: str) -> list[SpecT]:
    """The mappings to poll: those not switched off with `Enabled: false` (logged)."""
    for spec in specs:
        if not spec.enabled:
            logger.info("%s: Enabled is false, its %s is not polled", spec.name, polled)
    return [spec for spec in specs if spec.enabled]


class EventSource(Protocol):
    """One event source mapping (a stream or a queue) feeding one function."""

    @property
    def name(self) -> str:
        """`Function.Event`, as the template names the mapping."""
        ...

    def poll(self, *, patient: bool) -> bool:
        """Read what is new and deliver what is ready; True if anything was read or invoked.

        `patient` (background polling) waits out the retry back-off of a failing batch; a drain
        retries at once, since it cannot let time pass.
        """
        ...

    def skip_pending(self) -> None:
        """Move past everything written so far, as a mapping created now (LATEST) would."""
        ...

    def backlog(self) -> str | None:
        """What is still waiting to be delivered, in words; None when nothing is."""
        ...


@dataclass(frozen=True)
class FailedBatch:
    """Records an event source gave up on: what Lambda sends to the on-failure destination
    (`message`), the destination if the template names one, and the records themselves."""

    source: str
    function: str
    condition: str
    destination: str | None
    message: Mapping[str, Any]
    records: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class BatchOutcome:
    """How one invocation with a batch went: `failed` holds the positions of the records to
    retry, in batch order (all of them after a function error or a malformed answer)."""

    function_error: bool
    failed: tuple[int, ...]


def invoke_batch(
    runtime: FunctionRuntime,
    function: str,
    records: Sequence[Mapping[str, Any]],
    identifiers: Sequence[str],
    *,
    report_batch_item_failures: bool,
) -> BatchOutcome:
    """Invoke a function with `{"Records": records}` as an event source mapping does, and read
    its answer: with ReportBatchItemFailures, `{"batchItemFailures": [{"itemIdentifier": id}]}`
    names records by `identifiers`; an empty or null list, or no answer, is a success; an
    identifier that is missing, not a string or not in the batch fails the whole batch."""
    everything = tuple(range(len(records)))
    try:
        result = runtime.invoke(function, {"Records": list(records)})
    except FunctionError:
        return BatchOutcome(function_error=True, failed=everything)
    if not report_batch_item_failures or not isinstance(result, dict):
        return BatchOutcome(function_error=False, failed=())
    failures = result.get("batchItemFailures")
    if not failures:
        return BatchOutcome(function_error=False, failed=())
    if not isinstance(failures, list):
        return BatchOutcome(function_error=False, failed=everything)
    positions = {identifier: index for index, identifier in enumerate(identifiers)}
    reported = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return BatchOutcome(function_error=False, failed=everything)
        reported.add(positions[identifier])
    return BatchOutcome(function_error=False, failed=tuple(sorted(reported)))


class RetryBackoff:
    """How long background polling leaves a failing batch alone: doubling from 0.1 s to 5 s
    with every failure in a row, back to nothing after a success. Lambda's own timing is not
    emulated; this keeps `make run` from spinning on a failure while a fix shows within seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failed_in_a_row = 0
        self._retry_at = 0.0

    def waiting(self) -> bool:
        """Whether the last failure's back-off is still running."""
        return self._clock() < self._retry_at

    def failed(self) -> float:
        """Count a failure; returns the seconds to wait before the next attempt."""
        self._failed_in_a_row += 1
        delay = min(_MAX_BACKOFF_SECONDS, _BACKOFF_SECONDS * 2.0 ** (self._failed_in_a_row - 1))
        self._retry_at = self._clock() + delay
        return delay

    def settled(self) -> None:
        """A success (or a batch given up on): the next failure starts from the shortest wait."""
        self._failed_in_a_row = 0
        self._retry_at = 0.0


class EventSourcesNotQuiescentError(RuntimeError):
    """A drain found work in every one of its rounds: something keeps feeding itself, or a batch
    keeps failing with unbounded retries."""


class EventSourcePoller:
    """Drives the stack's event sources: on demand (`drain`) or every ~100 ms (`start`)."""

    def __init__(
        self, runtime: FunctionRuntime, *, interval: float = POLL_INTERVAL_SECONDS
    ) -> None:
        self._runtime = runtime
        self._interval = interval
        self._sources: list[EventSource] = []
        self._failures: list[FailedBatch] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._one_round_at_a_time = threading.Lock()

    @property
    def sources(self) -> tuple[EventSource, ...]:
        return tuple(self._sources)

    @property
    def failures(self) -> list[FailedBatch]:
        """Every batch given up on so far, oldest first (the emulated on-failure destination)."""
        return self._failures

    def add(self, source: EventSource) -> None:
        self._sources.append(source)

    def record_failure(self, failure: FailedBatch) -> None:
        """Where sources report what they could not deliver."""
        self._failures.append(failure)

    def skip_pending(self) -> None:
        """Let every source move past what was written so far (e.g. a test's bulk set-up)."""
        with self._one_round_at_a_time:
            for source in self._sources:
                source.skip_pending()

    def drain(self, max_rounds: int = DEFAULT_MAX_ROUNDS) -> int:
        """Poll until a round finds nothing to do; returns how many rounds found something.

        Raises `EventSourcesNotQuiescentError` when `max_rounds` busy rounds did not settle.
        """
        if not self._sources:
            return 0
        busy_rounds = 0
        while self._round(patient=False):
            busy_rounds += 1
            if busy_rounds >= max_rounds:
                break
        else:
            return busy_rounds
        waiting = [
            f"{source.name}: {backlog}"
            for source in self._sources
            if (backlog := source.backlog()) is not None
        ]
        raise EventSourcesNotQuiescentError(
            f"event sources still busy after {max_rounds} rounds (a function that keeps "
            "triggering itself, or a batch failing with MaximumRetryAttempts -1)"
            + (f": {'; '.join(waiting)}" if waiting else "")
        )

    def _round(self, *, patient: bool) -> bool:
        with self._one_round_at_a_time:
            # Every source polls in every round, whatever the others found.
            busy = [source.poll(patient=patient) for source in self._sources]
        return any(busy)

    def start(self) -> None:
        """Poll in a background thread until `stop()`; nothing to do without sources."""
        if not self._sources or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="scim-local-event-sources", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop background polling and wait for the current round (idempotent)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                for _ in range(_ROUNDS_PER_TICK):
                    if self._stop.is_set():
                        break
                    if not self._round(patient=True):
                        break
            except Exception:
                logger.exception("polling the event sources failed")

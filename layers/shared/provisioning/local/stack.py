"""The local stack: `template.yaml` served on moto, in process or over a real socket."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from provisioning.local.cfn import TemplateError
from provisioning.local.dynamodb_streams import dynamodb_stream_sources
from provisioning.local.event_sources import (
    DEFAULT_MAX_ROUNDS,
    EventSource,
    EventSourcePoller,
    FailedBatch,
)
from provisioning.local.gateway import HttpRequest, HttpResponse, LocalGateway
from provisioning.local.lambdas import FunctionRuntime
from provisioning.local.server import LocalServer
from provisioning.local.sqs_queues import sqs_queue_sources
from provisioning.local.template import SamTemplate
from provisioning.local.world import MotoWorld, moto_world

TEMPLATE_NAME = "template.yaml"
# Every caller of this stack is a SCIM client; RFC 7644 §3.1 names this media type.
DEFAULT_BODY_TYPE = "application/scim+json"
# Characters a client would send as they are; anything else is percent-encoded for the caller.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"

QueryValue = str | Sequence[str]


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder holding `template.yaml`: from `start` (or the working directory) up,
    then from this package's own checkout."""
    candidates = [(start or Path.cwd()).resolve(), Path(__file__).resolve()]
    for candidate in candidates:
        for folder in (candidate, *candidate.parents):
            if (folder / TEMPLATE_NAME).is_file():
                return folder
    raise TemplateError(f"no {TEMPLATE_NAME} above {candidates[0]}")


class LocalStack:
    """The template's HTTP API with its authorizer, functions and event sources, on moto.

    Start it with `LocalStack.start()`; everything it set up is undone when the block exits.
    """

    def __init__(
        self,
        template: SamTemplate,
        world: MotoWorld,
        runtime: FunctionRuntime,
        gateway: LocalGateway,
        event_sources: EventSourcePoller | None = None,
    ) -> None:
        self.template = template
        self.world = world
        self.runtime = runtime
        self.gateway = gateway
        self.event_sources = event_sources or EventSourcePoller(runtime)
        self._server: LocalServer | None = None

    @classmethod
    @contextmanager
    def start(
        cls,
        repo_root: Path | None = None,
        *,
        clock: Callable[[], float] | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Iterator[LocalStack]:
        """Moto active, the template's table created, its environment exported; `clock` (a
        monotonic seconds source) lets tests move the authorizer cache's time, and `parameters`
        override the template's defaults as `sam deploy --parameter-overrides` would."""
        root = find_repo_root() if repo_root is None else repo_root
        template = SamTemplate.load(root / TEMPLATE_NAME, parameters=parameters)
        with moto_world(template) as world:
            runtime = FunctionRuntime(template.functions())
            gateway = LocalGateway(
                template.http_api(),
                runtime,
                pseudo=template.resolver.pseudo,
                clock=clock or time.monotonic,
            )
            poller = EventSourcePoller(runtime)
            # Streams first: what a publisher puts on a bus reaches its queues in the same round.
            sources: list[EventSource] = [
                *dynamodb_stream_sources(
                    template,
                    runtime,
                    lambda: world.client("dynamodbstreams"),
                    poller.record_failure,
                ),
                *sqs_queue_sources(template, runtime, lambda: world.client("sqs")),
            ]
            for source in sources:
                poller.add(source)
            stack = cls(template, world, runtime, gateway, poller)
            try:
                yield stack
            finally:
                stack.shutdown()
                runtime.close()

    def create_organization(self, org_id: str, token: str | None = None) -> str:
        """Create an organization's token secret; returns its SCIM bearer token (the given one,
        or a freshly issued one)."""
        from provisioning.auth.tokens import TokenService

        service = TokenService(self.world.client("secretsmanager"), self._token_secret_prefix())
        return service.create_organization(org_id, token=token)

    def _token_secret_prefix(self) -> str:
        functions = self.runtime.functions
        authorizer_functions = [a.function for a in self.gateway.api.authorizers.values()]
        for logical_id in [*authorizer_functions, *functions]:
            prefix = functions[logical_id].environment.get("TOKEN_SECRET_PREFIX")
            if prefix:
                return prefix
        from provisioning.settings import Settings

        return str(Settings.model_fields["token_secret_prefix"].default)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        query: Mapping[str, QueryValue] | None = None,
    ) -> HttpResponse:
        """Send one request through the gateway in process (no socket), as HTTPS on the API's
        domain. `path` may carry a query string; `query` is appended to it."""
        sent = dict(headers or {})
        names = {name.lower() for name in sent}
        payload: bytes
        if body is None:
            payload = b""
        elif isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = json.dumps(body).encode("utf-8")
            if "content-type" not in names:
                sent["Content-Type"] = DEFAULT_BODY_TYPE
        path_part, question, query_part = path.partition("?")
        target = quote(path_part, safe=_PATH_SAFE)
        query_string = quote(query_part, safe=_QUERY_SAFE) if question else ""
        if query:
            extra = urlencode(query, doseq=True, quote_via=quote)
            query_string = f"{query_string}&{extra}" if query_string else extra
        if query_string:
            target = f"{target}?{query_string}"
        response = self.gateway.handle(
            HttpRequest(
                method=method.upper(), target=target, headers=tuple(sent.items()), body=payload
            )
        )
        # What the request wrote reaches its stream consumers before the caller looks.
        self.drain()
        return response

    def skip_pending(self) -> None:
        """Start every stream source after what the table holds now, so that a bulk set-up
        written straight to the table triggers nothing (benchmarks seeding 100,000 items).
        Messages already in a queue stay there and are delivered: they are work, not history."""
        self.event_sources.skip_pending()

    def drain(self, max_rounds: int = DEFAULT_MAX_ROUNDS) -> int:
        """Deliver every pending stream record and queue message (and whatever their functions
        write, put on a bus or send in turn) until nothing is left; returns the number of busy
        rounds. For tests that write to the table or a queue directly; `request` drains by
        itself. Raises `EventSourcesNotQuiescentError` if `max_rounds` rounds do not settle."""
        return self.event_sources.drain(max_rounds)

    def queue_url(self, logical_id: str) -> str:
        """The URL of one of the template's queues, e.g. `queue_url("FanoutDeadLetterQueue")`
        to read what the fan-out gave up on with `world.client("sqs")`."""
        if logical_id not in self.world.queues:
            raise KeyError(f"no queue {logical_id!r} in the template")
        return self.world.queues[logical_id]

    @property
    def failed_batches(self) -> list[FailedBatch]:
        """What the stream sources gave up on (the emulated on-failure destinations), oldest
        first. A queue's messages are never given up on by their mapping: after the queue's
        maxReceiveCount they are in its dead-letter queue (see `queue_url`)."""
        return self.event_sources.failures

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve the gateway over HTTP in a background thread, and poll the event sources in
        another, as Lambda does; returns the base URL. Routes behind IAM are open on a loopback
        host only: bound to any other, they answer 403."""
        if self._server is not None:
            raise RuntimeError(f"already serving on {self._server.url}")
        self._server = LocalServer(self.gateway, host, port)
        url = self._server.start()
        self.event_sources.start()
        return url

    def shutdown(self) -> None:
        """Stop the HTTP server and background polling if they run (idempotent; also done when
        the stack exits)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        self.event_sources.stop()

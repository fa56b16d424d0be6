"""A real HTTP front for the local gateway, so curl, Postman or an IdP's test tool can reach it."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from provisioning.local.gateway import (
    MAX_PAYLOAD_BYTES,
    HttpRequest,
    HttpResponse,
    LocalGateway,
    gateway_error,
)

logger = logging.getLogger("provisioning.local")


class _BadRequestError(ValueError):
    """A request the HTTP layer cannot read (bad length, broken chunked body)."""


class _GatewayRequestHandler(BaseHTTPRequestHandler):
    """Reads one request, hands it to the gateway, writes its answer; logs one line per request."""

    protocol_version = "HTTP/1.1"  # keep-alive, as IdP clients expect
    timeout = 30  # an idle keep-alive connection is closed after this
    server: _GatewayServer

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length_header = self.headers.get("Content-Length")
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError as exc:
            raise _BadRequestError("bad Content-Length") from exc
        if length < 0:
            raise _BadRequestError("bad Content-Length")
        if length > MAX_PAYLOAD_BYTES:
            # The gateway answers 413; the body stays unread, so the connection cannot be reused.
            self.close_connection = True
            return b"\0" * (MAX_PAYLOAD_BYTES + 1)
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(line, 16)
            except ValueError as exc:
                raise _BadRequestError("bad chunk size") from exc
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(body)
            body += self.rfile.read(size)
            self.rfile.readline(8)
            if len(body) > MAX_PAYLOAD_BYTES:
                self.close_connection = True
                return bytes(body)

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            body = self._read_body()
        except _BadRequestError:
            self.close_connection = True
            response = gateway_error(400, "Bad Request")
        else:
            request = HttpRequest(
                method=self.command,
                target=self.path,
                headers=tuple(self.headers.items()),
                body=body,
                source_ip=self.client_address[0],
                protocol=self.request_version,
                scheme="http",
                port=self.server.server_address[1],
                loopback_listener=self.server.loopback,
            )
            response = self.server.gateway.handle(request)
        self._write(response)
        logger.info(
            "%s %s %s %d %.1fms",
            self.client_address[0],
            self.command,
            self.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        for cookie in response.cookies:
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Silence http.server's own access log; `_serve` logs one line per request."""

    # http.server dispatches to do_<METHOD>; every method goes to the gateway, which routes it.
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    gateway: LocalGateway
    loopback: bool


class LocalServer:
    """The gateway behind a ThreadingHTTPServer running in a background thread."""

    def __init__(self, gateway: LocalGateway, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _GatewayServer((host, port), _GatewayRequestHandler)
        self._server.gateway = gateway
        # The address actually bound: "localhost" has become 127.0.0.1, "" has become 0.0.0.0.
        bound = str(self._server.server_address[0])
        self._server.loopback = ipaddress.ip_address(bound).is_loopback
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="scim-local-http",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Start serving; returns the base URL (with the port the OS chose for port 0)."""
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop accepting, close the socket and wait for the serving thread."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

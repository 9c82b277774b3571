"""The HTTP API of ``translate serve``: a standard-library ``ThreadingHTTPServer``.

Endpoints (every error is JSON ``{"error": {"status", "code", "message"}}``):

- ``POST /translate[?direction=BtoA]``: the body is a PNG or JPEG (``image/png``, ``image/jpeg``,
  ``application/octet-stream``) or ``multipart/form-data`` with the file in a field ``image``
  (and optionally a ``direction`` field); the answer is the translated PNG, with the generator in
  ``X-Translate-Generator`` and its direction in ``X-Translate-Direction``.
- ``GET /model``: the JSON description (:meth:`ModelService.describe`).
- ``GET /health``: ``{"status": "ok", ...}`` with the queue length and batch counts.
- ``GET /metrics``: counters, gauges and the latency histogram in Prometheus' text format (:mod:`.metrics`).
- ``GET /``: the endpoints, as JSON.

A body larger than the limit is refused from its ``Content-Length`` before it is read (413, and
the connection is closed); a request without ``Content-Length`` gets 411. Each connection's
socket times out after :data:`SOCKET_TIMEOUT` seconds, and at most ``max_queue`` POSTs are in
progress at once (503 beyond), so slow or many clients cannot hold the server. A bad request never
stops the server: every error is answered and the next request is served. Every 503 carries
``Retry-After``: the seconds the model needs for the requests already waiting, at its measured speed
(at least 1).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ...errors import TranslateError
from .limits import RequestError
from .metrics import CONTENT_TYPE, ServerMetrics
from .service import ModelService

SOCKET_TIMEOUT = 30.0
"""Seconds a connection may stay silent (reading the request or the body) before it is closed."""
QUERY_KEYS = ("direction",)
"""The query parameters ``POST /translate`` accepts."""
ENDPOINTS = {
    "POST /translate": "translate one PNG/JPEG (raw body or multipart field 'image'); ?direction= picks the generator",
    "GET /model": "the model: name, method, domains, directions, input size rules, channels, limits",
    "GET /health": "liveness and the batch queue",
    "GET /metrics": "requests by status, latency histogram, queue, rejections, deadline expiries (Prometheus text)",
}
ROUTES = {"/translate": "POST", "/model": "GET", "/health": "GET", "/metrics": "GET", "/": "GET"}
"""Each path served, and its method."""


class TranslateServer(ThreadingHTTPServer):
    """A threading HTTP server holding the :class:`ModelService` it serves (``verbose``: log each request)."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog (socketserver's default is 5): a burst of clients is answered
    # (503 beyond max_queue), not reset by the kernel

    def __init__(self, address: tuple[str, int], service: ModelService, *, verbose: bool = False) -> None:
        super().__init__(address, _Handler)
        self.service = service
        self.verbose = verbose
        self.slots = threading.BoundedSemaphore(service.limits.max_queue)
        self.metrics = ServerMetrics()

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound socket (the real port when 0 was asked)."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: TranslateServer
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a malformed request line still gets a status line
    timeout = SOCKET_TIMEOUT
    disable_nagle_algorithm = True  # headers and body are two writes: without this, delayed ACKs add 40 ms
    server_version = "translate-serve"

    # ------------------------------------------------------------------ routing

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        self._guarded(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._guarded(self._post)

    def do_PUT(self) -> None:  # noqa: N802
        self._guarded(lambda path, query: self._not_allowed(path))

    do_DELETE = do_PATCH = do_PUT

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        service = self.server.service
        if path == "/health":
            self._json(200, service.health())
        elif path == "/model":
            self._json(200, service.describe())
        elif path == "/metrics":
            text = self.server.metrics.render(queue_length=service.batcher.waiting, batches=service.batcher.stats)
            self._send(200, text.encode(), CONTENT_TYPE)
        elif path == "/":
            self._json(200, {"model": service.name, "endpoints": ENDPOINTS})
        else:
            self._not_allowed(path)

    def _post(self, path: str, query: dict[str, list[str]]) -> None:
        if path != "/translate":
            self._not_allowed(path)
            return
        unknown = sorted(set(query) - set(QUERY_KEYS))
        if unknown:
            raise RequestError(400, "unknown_parameter",
                               f"unknown query parameter {unknown[0]!r}; accepted: {', '.join(QUERY_KEYS)}")
        direction = query.get("direction", [None])[-1]
        body = self._body()
        if not self.server.slots.acquire(blocking=False):
            raise RequestError(503, "busy", "the server is busy with other requests; try again shortly")
        self.server.metrics.started(+1)
        try:
            png, generator = self.server.service.translate_body(body, self.headers.get("Content-Type"), direction)
        finally:
            self.server.metrics.started(-1)
            self.server.slots.release()
        g = self.server.service.pipeline.meta.generators[generator]
        self._send(200, png, "image/png", {"X-Translate-Generator": generator, "X-Translate-Direction": g.direction})

    def _not_allowed(self, path: str) -> None:
        if path in ROUTES:
            raise RequestError(405, "method_not_allowed", f"{self.command} {path} is not served; use {ROUTES[path]}")
        raise RequestError(404, "not_found", f"no endpoint {path!r}; the endpoints are: {', '.join(ENDPOINTS)}")

    # ------------------------------------------------------------------ the body, answers, errors

    def _body(self) -> bytes:
        limit = self.server.service.limits.max_bytes
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self.close_connection = True
            chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
            raise RequestError(411, "length_required", "send the body with a Content-Length header"
                               + (" (chunked transfer encoding is not accepted)" if chunked else ""))
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise RequestError(400, "bad_content_length", f"Content-Length {length_text!r} is not a byte count") \
                from None
        if length > limit:
            self.close_connection = True  # the body is never read
            raise RequestError(413, "body_too_large",
                               f"the body is {length} bytes, more than the {limit} this server accepts")
        data = self.rfile.read(length)
        self._body_read = True
        if len(data) < length:
            self.close_connection = True
            raise RequestError(400, "incomplete_body", f"the body ended after {len(data)} of {length} bytes")
        return data

    def _guarded(self, handler: Any) -> None:
        """Run a route; answer every error as JSON, so the server goes on serving."""
        self._body_read = False
        self._started = time.monotonic()
        try:
            split = urllib.parse.urlsplit(self.path)
            self._endpoint = split.path
            query = urllib.parse.parse_qs(split.query, keep_blank_values=True, max_num_fields=20)
            handler(split.path, query)
        except RequestError as err:
            self._reason = err.code
            retry = {"Retry-After": str(self.server.service.batcher.retry_after())} if err.status == 503 else None
            self._json(err.status, err.body(), retry)
        except ValueError as err:  # a malformed query string (parse_qs)
            self._json(400, RequestError(400, "bad_query", f"malformed query string: {err}").body())
        except TranslateError as err:
            self._json(400, RequestError(400, "bad_request", str(err)).body())
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as err:  # noqa: BLE001 - one failed request must not stop the server
            traceback.print_exc(file=sys.stderr)
            self._json(500, RequestError(500, "internal_error", f"{type(err).__name__}: {err}").body())

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (malformed request line, headers too long, unknown method) as JSON too."""
        self.close_connection = True
        text = message or self.responses.get(code, ("error",))[0]
        self._json(code, RequestError(code, "bad_http", f"{text}{f': {explain}' if explain else ''}").body())

    def send_response(self, code: int, message: str | None = None) -> None:
        """Close the connection after an answer that left a request body unread (it would be read as a request)."""
        if self.command not in ("GET", "HEAD") and not getattr(self, "_body_read", False):
            self.close_connection = True
        super().send_response(code, message)

    def _json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload, indent=1).encode() + b"\n", "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        endpoint, started = getattr(self, "_endpoint", "other"), getattr(self, "_started", None)
        timed = self.command == "POST" and endpoint == "/translate" and status == 200 and started is not None
        self.server.metrics.answered(endpoint, status, time.monotonic() - started if timed else None,
                                     getattr(self, "_reason", None))
        self._endpoint, self._started, self._reason = "other", None, None  # the connection's next request starts anew
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def make_server(service: ModelService, host: str = "127.0.0.1", port: int = 8000, *,
                verbose: bool = False) -> TranslateServer:
    """A bound (not yet serving) server for ``service``; call ``serve_forever()`` (port 0: any free port).

    Raises:
        TranslateError: the address cannot be bound (in use, not ours).
    """
    try:
        return TranslateServer((host, port), service, verbose=verbose)
    except OSError as err:
        raise TranslateError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None


__all__ = ["ENDPOINTS", "QUERY_KEYS", "ROUTES", "SOCKET_TIMEOUT", "TranslateServer", "make_server"]

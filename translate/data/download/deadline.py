"""A deadline for the head of an HTTP request: connecting, the TLS handshake, the status line and all headers.

A socket timeout bounds one read, not the request: a server that sends one byte of its headers every
few seconds restarts it forever. :class:`HeadDeadline` bounds them all together: urllib's opener is
built (:meth:`HeadDeadline.opener`) with connections that tell the deadline their socket, and a
watchdog thread shuts that socket when the deadline passes, which ends the blocked read at once.
Proxies and redirects work as with ``urllib.request.urlopen`` (each new connection is watched in turn).
Example::

    deadline = HeadDeadline(60)
    with deadline:
        response = deadline.opener().open(request, timeout=60)   # raises once the deadline passed
    # deadline.expired says whether that is why it failed; the body is read after the deadline's end
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import urllib.request
from typing import Any, Self


class HeadDeadline:
    """A deadline for connecting and reading the response head of one request (redirects included).

    Used as a context manager around ``opener().open(...)``: when ``seconds`` pass before it exits, a watchdog
    thread shuts the socket of the connection in progress, which ends any read blocked on it; ``expired``
    then says why the request failed.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._conn: http.client.HTTPConnection | None = None
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Self:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()

    def watch(self, conn: http.client.HTTPConnection) -> None:
        """Shut ``conn``'s socket at the deadline (its socket may not exist yet); raise TimeoutError once expired."""
        with self._lock:
            self._conn = conn
            if self.expired:
                raise TimeoutError(f"no answer within {self.seconds:g} s")

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener (proxies, redirects as usual) whose HTTP and HTTPS connections this deadline watches."""
        return urllib.request.build_opener(_HTTPHandler(self), _HTTPSHandler(self))

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            sock = getattr(self._conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # a blocked recv returns at once; the request fails
            except OSError:
                pass


class _Watched:
    """Mixed into http.client's connections: the deadline watches the connection while it connects and reads."""

    def __init__(self, *args: Any, deadline: HeadDeadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        self._deadline.watch(self)  # before connecting: the TLS handshake is covered too
        super().connect()  # type: ignore[misc]
        self._deadline.watch(self)  # expired while the socket did not exist yet: stop now


class _HTTPConnection(_Watched, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: HeadDeadline) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPConnection, req, deadline=self.deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: HeadDeadline) -> None:
        self.context = ssl.create_default_context()
        super().__init__(context=self.context)
        self.deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HTTPSConnection, req, context=self.context, deadline=self.deadline)


__all__ = ["HeadDeadline"]

"""A hostile HTTP server on 127.0.0.1 (a thread with a raw socket) that sends its response head too slowly.

``mode="trickle"``: the status line, then one header byte every ``every`` seconds, never the blank line that
ends the head; ``mode="silent"``: reads the request and sends nothing. Either way it stops by itself after
``limit`` seconds or when the client hangs up, and counts the bytes it managed to send.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Trickle:
    """What the server saw: its URL, the bytes of head it sent, whether the client hung up first."""

    url: str
    sent: int = 0
    client_left: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@contextmanager
def trickling_server(mode: str = "trickle", *, every: float = 0.05, limit: float = 20.0,
                     path: str = "/file.bin") -> Iterator[Trickle]:
    """Serve one connection on 127.0.0.1 in ``mode`` (see the module); yields its :class:`Trickle`."""
    listener = socket.create_server(("127.0.0.1", 0))
    state = Trickle(url=f"http://127.0.0.1:{listener.getsockname()[1]}{path}")
    stop = threading.Event()

    def serve() -> None:
        try:
            listener.settimeout(limit)
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                conn.settimeout(limit)
                conn.recv(65536)  # the request (small: one recv holds it)
                if mode == "silent":
                    try:
                        state.client_left = conn.recv(1) == b""  # blocks until the client hangs up
                    except TimeoutError:
                        pass
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                end = time.monotonic() + limit
                while not stop.wait(every) and time.monotonic() < end:
                    conn.sendall(b"X-Slow: a\r\n"[state.sent % 11:state.sent % 11 + 1])  # never the blank line
                    state.sent += 1
            except OSError:  # the client hung up: the next byte could not be sent
                state.client_left = True
            finally:
                state.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        listener.close()
        thread.join(limit + 5)

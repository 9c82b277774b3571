"""A TCP port on 127.0.0.1 that nothing listens on (for servers the tests start, or to stand for no network)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the system just handed out and that is closed again: connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

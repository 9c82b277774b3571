"""Is the Hugging Face Hub reachable? One quick TCP connection instead of huggingface_hub's retries.

With no network (no DNS, a firewall), ``huggingface_hub`` retries each request five times with
back-off, about 50 seconds per file, before it falls back to its cache or fails. Callers that can
answer from the cache ask :func:`hub_unreachable` first and, when the Hub cannot be reached, read
only the cache (``local_files_only``), so a machine without network gets its cached file, or a clear
error, at once.
"""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit

#: Seconds to wait for the TCP connection to the Hub's endpoint.
CONNECT_TIMEOUT = 3.0


def hub_unreachable(timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Why the Hub's endpoint (``HF_ENDPOINT``, default https://huggingface.co) cannot be reached, or None.

    None also when offline mode is on (``HF_HUB_OFFLINE=1``): huggingface_hub then reads only its cache
    and says so itself. The answer is not remembered: a network that comes back is seen at the next call.
    """
    from huggingface_hub import constants

    if constants.is_offline_mode():
        return None
    endpoint = constants.ENDPOINT
    parts = urlsplit(endpoint)
    host = parts.hostname
    if not host:
        return f"the Hub endpoint {endpoint!r} names no host"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    via = ""
    proxy = _proxy_for(parts.scheme, host)
    if proxy is not None:  # behind a proxy the Hub is reached through it: ask whether the proxy answers
        host, port, via = proxy[0], proxy[1], f" through the proxy {proxy[0]}:{proxy[1]}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as err:
        if isinstance(err, TimeoutError):
            reason = f"no answer in {timeout:g} s"
        else:
            reason = err.strerror or type(err).__name__
        return f"the Hugging Face Hub ({endpoint}) is not reachable from this machine{via} ({reason})"


def _proxy_for(scheme: str, host: str) -> tuple[str, int] | None:
    """The proxy (host, port) that requests to ``host`` go through (``HTTPS_PROXY`` etc., ``NO_PROXY``), or None."""
    proxies = urllib.request.getproxies()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)

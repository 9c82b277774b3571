"""translate.models.reachability.hub_unreachable: one quick connection to the Hub's endpoint (or its proxy)."""

from __future__ import annotations

import socket

import pytest

from tests.support.ports import free_port
from translate.models.reachability import hub_unreachable

pytest.importorskip("huggingface_hub")
from huggingface_hub import constants  # noqa: E402


@pytest.fixture
def listening():
    """A socket listening on 127.0.0.1 (a connection to it succeeds); yields its port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock.getsockname()[1]


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
        monkeypatch.delenv(key.upper(), raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_a_listening_endpoint_is_reachable(monkeypatch: pytest.MonkeyPatch, listening: int) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{listening}")
    assert hub_unreachable() is None


def test_a_dead_endpoint_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    reason = hub_unreachable()
    assert reason is not None and f"the Hugging Face Hub ({endpoint}) is not reachable" in reason


def test_offline_mode_leaves_it_to_huggingface_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub_unreachable() is None


def test_behind_a_proxy_the_proxy_is_asked(monkeypatch: pytest.MonkeyPatch, listening: int) -> None:
    dead = free_port()
    monkeypatch.setattr(constants, "ENDPOINT", "https://hub.invalid")  # no DNS: only reachable through the proxy
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{listening}")
    assert hub_unreachable() is None
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{dead}")
    reason = hub_unreachable()
    assert reason is not None and f"through the proxy 127.0.0.1:{dead}" in reason
    monkeypatch.setenv("no_proxy", "hub.invalid")  # bypassed: the endpoint itself is asked, and has no DNS
    reason = hub_unreachable()
    assert reason is not None and "through the proxy" not in reason

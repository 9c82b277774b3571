"""Pretrained weights files (translate.models.weights): a path, the search folders, hf:// ids, the missing-file error, loading.

The Hub is a tiny ``ThreadingHTTPServer`` on 127.0.0.1 answering ``hf_hub_download``'s
``HEAD|GET /{owner}/{repo}/resolve/{revision}/{path}`` for small files (as the real Hub does:
``ETag`` the git blob sha1, ``X-Repo-Commit``), or a Hub cache populated by hand in the layout
huggingface_hub uses (``models--owner--repo/{refs,snapshots}``). huggingface_hub reads its settings
at import, so the tests patch ``huggingface_hub.constants`` as tests/translate/models/test_hub.py does.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants
from safetensors.torch import save_file

import translate
from tests.support.ports import free_port
from tests.support.trickle import trickling_server
from translate.errors import ModelFileError, TranslateError
from translate.models.weights import WeightsMissing, file_sha256, load_weights, resolve_weights, search_folders

FILE = "net-1234abcd.pth"
ORIGIN = "https://example.org/models/net-1234abcd.pth"
COMMIT = "a" * 40
COMMIT_2 = "b" * 40


def _resolve(spec, **kwargs):
    args = {"filename": FILE, "what": "the backbone of a test metric", "origin": ORIGIN,
            "option": "eval.options.test.weights", **kwargs}
    return resolve_weights(spec, **args)


@pytest.fixture
def folders(monkeypatch, tmp_path) -> dict[str, Path]:
    """Empty search folders: two in TRANSLATE_WEIGHTS_DIR, translate's cache, torch's hub cache."""
    paths = {name: tmp_path / name for name in ("env1", "env2", "xdg", "torch")}
    for path in paths.values():
        path.mkdir()
    monkeypatch.setenv("TRANSLATE_WEIGHTS_DIR", os.pathsep.join([str(paths["env1"]), str(paths["env2"])]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(paths["xdg"]))
    monkeypatch.setenv("TORCH_HOME", str(paths["torch"]))
    return paths


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Point huggingface_hub at ``endpoint`` with a fresh cache; returns ``configure(endpoint, offline)``."""
    home = tmp_path / "hf-home"

    def configure(endpoint: str = "http://127.0.0.1:9", *, offline: bool = False) -> Path:
        cache = home / "hub"
        for key, value in {"HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_CACHE": str(cache),
                           "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
            monkeypatch.setenv(key, value)
        for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
            monkeypatch.delenv(key, raising=False)
        for key, value in {"ENDPOINT": endpoint,
                           "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
                           "HF_HUB_OFFLINE": offline, "HF_HOME": str(home), "HF_HUB_CACHE": str(cache),
                           "HUGGINGFACE_HUB_CACHE": str(cache), "HF_TOKEN_PATH": str(home / "token"),
                           "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
                           "HF_HUB_DISABLE_TELEMETRY": True}.items():
            monkeypatch.setattr(constants, key, value)
        return cache

    return configure


def _cache_file(cache: Path, repo: str, commit: str, path: str, data: bytes, refs: tuple[str, ...] = ("main",)) -> None:
    """Put ``path`` of ``repo`` at ``commit`` into a Hub cache the way huggingface_hub lays it out."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    target = folder / "snapshots" / commit / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    for ref in refs:
        (folder / "refs" / ref).write_text(commit)


# --------------------------------------------------------------------------- local files and folders


def test_explicit_file_and_folder(tmp_path, folders):
    weights = tmp_path / "my-copy.pth"
    weights.write_bytes(b"x")
    assert _resolve(str(weights)) == weights.resolve()
    (tmp_path / FILE).write_bytes(b"y")
    assert _resolve(str(tmp_path)) == (tmp_path / FILE).resolve()  # a folder: the usual name inside it
    assert _resolve(weights) == weights.resolve()  # a Path works too


def test_explicit_missing_file_names_option_and_origin(tmp_path, folders):
    with pytest.raises(WeightsMissing) as info:
        _resolve(str(tmp_path / "nope.pth"))
    message = str(info.value)
    assert "the backbone of a test metric" in message and "nope.pth" in message and "does not exist" in message
    assert ORIGIN in message and "eval.options.test.weights" in message
    with pytest.raises(WeightsMissing, match=f"folder without {FILE}"):
        _resolve(str(folders["env1"]))


def test_empty_setting_is_an_error(folders):
    with pytest.raises(WeightsMissing, match="eval.options.test.weights is empty"):
        _resolve("  ")


def test_search_folders_in_order(folders):
    expected = [folders["env1"], folders["env2"], folders["xdg"] / "translate" / "weights",
                folders["torch"] / "hub" / "checkpoints"]
    assert search_folders() == expected
    for folder in reversed(expected):  # each folder in turn; the earliest wins
        folder.mkdir(parents=True, exist_ok=True)
        (folder / FILE).write_bytes(folder.name.encode())
        assert _resolve(None) == (folder / FILE).resolve()


def test_torch_hub_checkpoints_are_found(folders):
    """A machine where torchvision or torch-fidelity once downloaded the file already has it."""
    checkpoints = folders["torch"] / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / FILE).write_bytes(b"z")
    assert _resolve(None) == (checkpoints / FILE).resolve()


def test_missing_file_error_names_everything(folders):
    with pytest.raises(WeightsMissing) as info:
        _resolve(None)
    message = str(info.value)
    for part in ("the backbone of a test metric", FILE, ORIGIN, "eval.options.test.weights", "TRANSLATE_WEIGHTS_DIR",
                 str(folders["env1"]), str(folders["env2"]), str(folders["xdg"] / "translate" / "weights"),
                 str(folders["torch"] / "hub" / "checkpoints"), "hf://"):
        assert part in message, part
    assert isinstance(info.value, TranslateError)


def test_public_api_names():
    assert translate.api.resolve_weights is resolve_weights and translate.WeightsMissing is WeightsMissing
    assert translate.load_weights is load_weights and translate.api.file_sha256 is file_sha256


# --------------------------------------------------------------------------- hf:// ids


def test_hub_cache_offline(hub, folders):
    cache = hub(offline=True)
    _cache_file(cache, "alice/weights", COMMIT, f"nets/{FILE}", b"one")
    _cache_file(cache, "alice/weights", COMMIT_2, FILE, b"two", refs=("v2",))
    assert _resolve(f"hf://alice/weights/nets/{FILE}").read_bytes() == b"one"
    assert _resolve(f"hf://alice/weights/nets/{FILE}@{COMMIT}").read_bytes() == b"one"
    assert _resolve("hf://alice/weights@v2").read_bytes() == b"two"  # no path: the usual file name
    assert _resolve(f"hf://alice/weights@v2/{FILE}").read_bytes() == b"two"


def test_hub_offline_cold_cache_is_weights_missing(hub, folders):
    hub(offline=True)
    with pytest.raises(WeightsMissing) as info:
        _resolve(f"hf://alice/weights/{FILE}@v1")
    message = str(info.value)
    assert "alice/weights" in message and "'v1'" in message and FILE in message and "HF_HUB_OFFLINE=1" in message
    assert ORIGIN in message and "eval.options.test.weights" in message


def test_unreachable_hub_reads_the_cache_at_once(hub, folders, monkeypatch):
    endpoint = f"http://127.0.0.1:{free_port()}"  # a port nobody listens on: no network
    cache = hub(endpoint=endpoint)
    sleeps: list[float] = []
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", sleeps.append)
    _cache_file(cache, "alice/weights", COMMIT, f"nets/{FILE}", b"one")
    assert _resolve(f"hf://alice/weights/nets/{FILE}").read_bytes() == b"one"  # the cached branch
    with pytest.raises(WeightsMissing) as info:
        _resolve(f"hf://alice/weights/{FILE}@v1")
    message = str(info.value)
    assert f"the Hugging Face Hub ({endpoint}) is not reachable" in message and "'v1'" in message
    assert "eval.options.test.weights" in message
    assert sleeps == []  # huggingface_hub's retries were never started


@pytest.mark.parametrize("spec", ["hf://alice", "hf:///x", "hf://alice/weights@"])
def test_bad_hub_ids(spec, hub, folders):
    hub(offline=True)
    with pytest.raises(WeightsMissing, match="hf://"):
        _resolve(spec)


def _serve(files: dict[str, bytes], commit: str):
    """A Hub answering ``/{repo}/resolve/{revision}/{path}`` for ``files`` (keyed ``repo/path``)."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(True)

        def _answer(self, body: bool) -> None:
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            requests.append(f"{self.command} {path}")
            owner, repo, _resolve_word, _revision, *rest = path.strip("/").split("/")
            data = files.get(f"{owner}/{repo}/{'/'.join(rest)}")
            if data is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", commit)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            self.send_response(200)
            for key, value in {"ETag": f'"{blob}"', "X-Repo-Commit": commit, "Content-Type": "application/octet-stream",
                               "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, requests


def test_hub_download_then_offline(hub, folders):
    server, requests = _serve({f"alice/weights/{FILE}": b"weights bytes"}, COMMIT)
    try:
        hub(f"http://127.0.0.1:{server.server_address[1]}")
        path = _resolve("hf://alice/weights")
        assert path.read_bytes() == b"weights bytes" and COMMIT in str(path)
        assert any(r.endswith(f"/alice/weights/resolve/main/{FILE}") for r in requests)
        hub(f"http://127.0.0.1:{server.server_address[1]}", offline=True)
        requests.clear()
        assert _resolve(f"hf://alice/weights/{FILE}").read_bytes() == b"weights bytes"
        assert requests == []  # offline: answered from the cache
        hub(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(WeightsMissing, match="other.pth") as info:
            _resolve("hf://alice/weights/other.pth")
        assert "EntryNotFound" in str(info.value) or "not" in str(info.value)
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- sha256 and loading


def test_a_weights_url_whose_server_trickles_its_headers(tmp_path, monkeypatch):
    """A URL setting is downloaded with the same deadline on connecting and the response head as data sets."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(importlib.import_module("translate.data.download.fetch"), "TIMEOUT_S", 0.5)
    with trickling_server(path=f"/{FILE}") as server:
        with pytest.raises(WeightsMissing) as err:
            _resolve(server.url)
        assert server.done.wait(20)
    assert f"= {server.url!r} could not be downloaded: could not download {server.url}: no complete answer " \
           "within 0.5 s" in str(err.value)
    assert server.client_left and 0 < server.sent < 200
    assert not (tmp_path / "cache" / "translate" / "weights" / FILE).exists()


def test_file_sha256(tmp_path):
    path = tmp_path / "w.bin"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()
    path.write_bytes(b"changed, and longer than before")
    assert file_sha256(str(path)) == hashlib.sha256(b"changed, and longer than before").hexdigest()


def test_load_weights_formats(tmp_path):
    state = {"a.weight": torch.randn(2, 3), "b": torch.arange(4)}
    save_file(state, str(tmp_path / "w.safetensors"))
    torch.save(state, tmp_path / "w.pth")
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "nested.pt")
    for name in ("w.safetensors", "w.pth", "nested.pt"):
        loaded = load_weights(tmp_path / name)
        assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state), name


class _Arbitrary:
    pass


def test_load_weights_refuses_bad_files(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint at all")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 16)
    torch.save({"net": _Arbitrary()}, tmp_path / "pickle.pth")  # weights_only refuses arbitrary classes
    torch.save({"a": 1, "b": "text"}, tmp_path / "numbers.pt")
    (tmp_path / "w.onnx").write_bytes(b"x")
    for name, problem in [("garbage.pth", "not a readable weights file"), ("garbage.safetensors", "not a readable"),
                          ("pickle.pth", "not a readable weights file"), ("numbers.pt", "not a state dict"),
                          ("w.onnx", "unknown weights file type")]:
        with pytest.raises(ModelFileError) as info:
            load_weights(tmp_path / name)
        assert name in str(info.value) and problem in str(info.value), (name, str(info.value))

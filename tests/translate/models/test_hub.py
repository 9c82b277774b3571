"""The Hub: downloads through huggingface_hub against a local fake Hub, push, and hf:// ids.

The fake Hub is a ``ThreadingHTTPServer`` on 127.0.0.1 answering what ``hf_hub_download`` asks:

- ``HEAD|GET /{owner}/{name}/resolve/{revision}/{filename}`` (revision URL-quoted): a branch or a
  commit hash. Small files: ``200`` with ``ETag`` (the git blob sha1), ``X-Repo-Commit`` and the
  body. ``*.safetensors`` (stored in LFS on the real Hub): ``302`` to a second server (another
  port, so another origin: the "CDN") with ``X-Linked-Etag`` (sha256), ``X-Linked-Size`` and
  ``X-Repo-Commit``; the CDN answers ``GET /cdn/{sha256}``.
- ``GET /api/agent-harnesses`` (huggingface_hub's user-agent telemetry; the tests turn it off
  with ``HF_HUB_DISABLE_TELEMETRY``): an empty registry.
- ``POST`` anything (``HfApi.create_repo``...): ``401 Invalid username or password.``
- Errors as the Hub sends them: ``404`` with ``X-Error-Code`` ``RepoNotFound``,
  ``RevisionNotFound`` or ``EntryNotFound`` (the last with ``X-Repo-Commit``).

huggingface_hub reads ``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_HOME`` when it is imported, so
the in-process tests set the environment *and* patch ``huggingface_hub.constants``; one test
runs downloads in fresh subprocesses configured by environment variables only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from tests.support.ports import free_port
from translate.errors import ModelFileError, TranslateError
from translate.models.hub import add_push_arguments, download, parse_hub_id, push, push_cli

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import HfApi, constants  # noqa: E402
from huggingface_hub.hf_api import CommitInfo  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
REPO = "alice/tiny-model"
COMMIT_1 = "1" * 8 + hashlib.sha1(b"one").hexdigest()[8:]
COMMIT_2 = "2" * 8 + hashlib.sha1(b"two").hexdigest()[8:]
FILES = ("config.json", "model.safetensors", "README.md")


# --------------------------------------------------------------------------- the fake Hub


def _safetensors_bytes(tmp: Path, value: float) -> bytes:
    path = tmp / f"w{value}.safetensors"
    save_file({"w": torch.full((2, 3), value)}, str(path), metadata={"format": "pt"})
    return path.read_bytes()


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class FakeHub:
    """Repositories: ``repo -> {"refs": {branch: commit}, "commits": {commit: {filename: bytes}}}``."""

    repos: dict[str, dict] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (server, method, path)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
    cdn_url: str = ""

    def blobs(self) -> dict[str, bytes]:
        return {
            hashlib.sha256(data).hexdigest(): data
            for repo in self.repos.values()
            for files in repo["commits"].values()
            for data in files.values()
        }

    def gets(self, server: str | None = None) -> list[str]:
        return [p for s, m, p in self.requests if m == "GET" and (server is None or s == server)]

    def paths(self) -> list[str]:
        return [p for _, _, p in self.requests]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler(hub: FakeHub, server_name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(body=True)

        def do_POST(self) -> None:  # noqa: N802 - every write is refused, as for a client without a token
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hub.lock:
                hub.requests.append((server_name, "POST", urllib.parse.urlsplit(self.path).path))
            self._error(401, None, "Invalid username or password.", True)

        def _send(self, status: int, headers: dict[str, str], data: bytes, body: bool) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body and data:
                self.wfile.write(data)

        def _error(self, status: int, code: str | None, message: str, body: bool, **extra: str) -> None:
            headers = {"Content-Type": "application/json", **extra}
            if code:
                headers["X-Error-Code"] = code
                headers["X-Error-Message"] = message
            self._send(status, headers, json.dumps({"error": message}).encode(), body)

        def _answer(self, body: bool) -> None:
            path = urllib.parse.urlsplit(self.path).path
            with hub.lock:
                hub.requests.append((server_name, self.command, path))
            if server_name == "cdn":
                data = hub.blobs().get(path.removeprefix("/cdn/"))
                if not path.startswith("/cdn/") or data is None:
                    return self._error(404, None, "no such blob", body)
                return self._send(200, {"Content-Type": "application/octet-stream"}, data, body)
            if path == "/api/agent-harnesses":  # huggingface_hub's user-agent telemetry (when enabled)
                return self._send(200, {"Content-Type": "application/json"},
                                  b'{"harnesses": {}, "standardEnvVars": []}', body)
            parts = path.split("/")  # "", owner, name, "resolve", revision, filename...
            if len(parts) < 6 or parts[3] != "resolve":
                return self._error(404, None, f"unexpected request {path}", body)
            repo_id = f"{parts[1]}/{parts[2]}"
            revision = urllib.parse.unquote(parts[4])
            filename = urllib.parse.unquote("/".join(parts[5:]))
            repo = hub.repos.get(repo_id)
            if repo is None:
                return self._error(404, "RepoNotFound", "Repository not found", body)
            commit = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
            if commit is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", body)
            data = repo["commits"][commit].get(filename)
            if data is None:
                return self._error(404, "EntryNotFound", f"{filename} does not exist on {revision!r}", body,
                                   **{"X-Repo-Commit": commit})
            if filename.endswith(".safetensors"):  # an LFS file: redirect to the "CDN" (another origin)
                sha256 = hashlib.sha256(data).hexdigest()
                headers = {
                    "Location": f"{hub.cdn_url}/cdn/{sha256}",
                    "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{sha256}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": f'"{_git_sha1(data)}"',
                }
                return self._send(302, headers, b"", body)
            headers = {"ETag": f'"{_git_sha1(data)}"', "X-Repo-Commit": commit, "Content-Type": "text/plain"}
            return self._send(200, headers, data, body)

    return Handler


@pytest.fixture(scope="module")
def repo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    tmp = tmp_path_factory.mktemp("repo-files")
    return {
        COMMIT_1: {
            "config.json": b'{"format_version": "1", "version": 1}\n',
            "model.safetensors": _safetensors_bytes(tmp, 1.0),
            "README.md": b"# tiny model, version 1\n",
            "pytorch_model.bin": b"a pickle that must never be fetched",
        },
        COMMIT_2: {
            "config.json": b'{"format_version": "1", "version": 2}\n',
            "model.safetensors": _safetensors_bytes(tmp, 2.0),
            "README.md": b"# tiny model, version 2\n",
        },
    }


@pytest.fixture
def fake_hub(repo_files):
    hub = FakeHub()
    hub.repos[REPO] = {"refs": {"main": COMMIT_1, "v2": COMMIT_2}, "commits": repo_files}
    hub.repos["alice/no-readme"] = {
        "refs": {"main": COMMIT_1},
        "commits": {COMMIT_1: {k: v for k, v in repo_files[COMMIT_1].items() if k != "README.md"}},
    }
    hub.repos["alice/no-weights"] = {
        "refs": {"main": COMMIT_2},
        "commits": {COMMIT_2: {"config.json": repo_files[COMMIT_2]["config.json"]}},
    }
    servers = []
    for name in ("hub", "cdn"):
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub, name))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"fake-{name}",
                         daemon=True).start()
        servers.append(server)
        setattr(hub, "url" if name == "hub" else "cdn_url", f"http://127.0.0.1:{server.server_address[1]}")
    yield hub
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    """Point huggingface_hub at ``endpoint`` with a per-test HF_HOME, no token, online by default."""
    home = tmp_path / "hf-home"

    def configure(endpoint: str, *, offline: bool = False) -> Path:
        cache = home / "hub"
        env = {"HF_ENDPOINT": endpoint, "HF_HOME": str(home), "HF_HUB_CACHE": str(cache),
               "HF_HUB_OFFLINE": "1" if offline else "0", "HF_HUB_DISABLE_TELEMETRY": "1"}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for key in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE", "TRANSFORMERS_OFFLINE"):
            monkeypatch.delenv(key, raising=False)
        patches = {
            "ENDPOINT": endpoint,
            "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
            "HF_HUB_OFFLINE": offline,
            "HF_HOME": str(home),
            "HF_HUB_CACHE": str(cache),
            "HUGGINGFACE_HUB_CACHE": str(cache),
            "HF_TOKEN_PATH": str(home / "token"),
            "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
            "HF_HUB_DISABLE_TELEMETRY": True,  # else: GET {endpoint}/api/agent-harnesses once a day
        }
        for key, value in patches.items():
            monkeypatch.setattr(constants, key, value)
        return cache

    return configure


def assert_snapshot(folder: Path, files: dict[str, bytes], names=FILES) -> None:
    assert folder.is_dir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)
    for name in names:
        assert (folder / name).read_bytes() == files[name], name


# --------------------------------------------------------------------------- download


def test_download_model_folder(fake_hub, hub_env, repo_files):
    cache = hub_env(fake_hub.url)
    folder = download(REPO)
    assert folder.name == COMMIT_1
    assert folder.is_relative_to(cache)
    assert_snapshot(folder, repo_files[COMMIT_1])
    # only the model folder's files, by name: never pytorch_model.bin or anything else
    requested = {p.rsplit("/", 1)[-1] for s, _, p in fake_hub.requests if s == "hub"}
    assert requested == set(FILES)
    assert len(fake_hub.gets("cdn")) == 1  # the weights came through the redirect
    # hf:// form works too
    assert download(f"hf://{REPO}") == folder


def test_second_download_uses_the_cache(fake_hub, hub_env, repo_files):
    hub_env(fake_hub.url)
    first = download(REPO)
    assert len(fake_hub.gets()) == 3
    fake_hub.clear()
    assert download(REPO) == first
    assert fake_hub.gets() == []  # no file content fetched again
    assert fake_hub.requests == [("hub", "HEAD", f"/{REPO}/resolve/main/config.json")]  # branch -> commit check
    fake_hub.clear()
    assert download(REPO, COMMIT_1) == first  # a cached commit needs no request at all
    assert fake_hub.requests == []
    assert_snapshot(first, repo_files[COMMIT_1])


def test_revisions_branch_and_commit(fake_hub, hub_env, repo_files):
    hub_env(fake_hub.url)
    v2 = download(REPO, "v2")
    assert v2.name == COMMIT_2
    assert_snapshot(v2, repo_files[COMMIT_2])
    v1 = download(REPO, COMMIT_1)
    assert v1.name == COMMIT_1
    assert_snapshot(v1, repo_files[COMMIT_1])
    assert download(f"hf://{REPO}@v2") == v2
    assert (v1 / "model.safetensors").read_bytes() != (v2 / "model.safetensors").read_bytes()


def test_offline_with_warm_cache_needs_no_network(fake_hub, hub_env, repo_files):
    hub_env(fake_hub.url)
    online = download(REPO)
    online_v2 = download(REPO, "v2")
    fake_hub.clear()
    hub_env(fake_hub.url, offline=True)
    assert download(REPO) == online
    assert download(REPO, "v2") == online_v2
    assert download(REPO, COMMIT_2) == online_v2
    assert fake_hub.requests == []
    assert_snapshot(online, repo_files[COMMIT_1])


def test_offline_with_cold_cache_is_a_clear_error(fake_hub, hub_env):
    cache = hub_env(fake_hub.url, offline=True)
    with pytest.raises(ModelFileError) as info:
        download(REPO, "v2")
    message = str(info.value)
    assert f"hf://{REPO}@v2" in message
    assert "not in the Hugging Face cache" in message and "offline mode is on" in message
    assert "HF_HUB_OFFLINE" in message and str(cache) in message
    assert fake_hub.requests == []


def test_offline_revision_not_cached(fake_hub, hub_env):
    hub_env(fake_hub.url)
    download(REPO)
    hub_env(fake_hub.url, offline=True)
    with pytest.raises(ModelFileError, match=r"offline mode is on"):
        download(REPO, "v2")


def test_unknown_repo_names_it(fake_hub, hub_env):
    hub_env(fake_hub.url)
    with pytest.raises(ModelFileError) as info:
        download("alice/nope", "v1")
    message = str(info.value)
    assert "hf://alice/nope@v1" in message and "repository alice/nope not found" in message
    assert fake_hub.url in message


def test_unknown_revision(fake_hub, hub_env):
    hub_env(fake_hub.url)
    with pytest.raises(ModelFileError) as info:
        download(REPO, "no-such-branch")
    message = str(info.value)
    assert "revision 'no-such-branch' not found" in message and REPO in message


def test_missing_required_file(fake_hub, hub_env):
    hub_env(fake_hub.url)
    with pytest.raises(ModelFileError, match=r"alice/no-weights.*has no model\.safetensors.*not a translate model"):
        download("alice/no-weights")


def test_readme_is_optional(fake_hub, hub_env, repo_files):
    hub_env(fake_hub.url)
    folder = download("alice/no-readme")
    assert_snapshot(folder, repo_files[COMMIT_1], names=("config.json", "model.safetensors"))
    fake_hub.clear()
    assert download("alice/no-readme") == folder
    # the cache remembers README.md is missing at that commit: only the branch check is made
    assert fake_hub.requests == [("hub", "HEAD", "/alice/no-readme/resolve/main/config.json")]
    hub_env(fake_hub.url, offline=True)
    assert download("alice/no-readme") == folder


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # a port nobody listens on


def test_unreachable_hub_is_a_clear_error_at_once(hub_env, monkeypatch):
    """No network: one refused connection, not huggingface_hub's five retries with back-off per file."""
    endpoint = _dead_endpoint()
    hub_env(endpoint)
    sleeps: list[float] = []
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", sleeps.append)
    with pytest.raises(ModelFileError) as info:
        download(REPO, "v2")
    message = str(info.value)
    assert f"hf://{REPO}@v2" in message and "not in the Hugging Face cache" in message
    assert f"the Hugging Face Hub ({endpoint}) is not reachable" in message
    assert sleeps == []  # no retry was attempted


def test_unreachable_hub_answers_from_a_warm_cache(fake_hub, hub_env, repo_files, monkeypatch):
    hub_env(fake_hub.url)
    online = download(REPO)
    hub_env(_dead_endpoint())
    sleeps: list[float] = []
    monkeypatch.setattr("huggingface_hub.utils._http.time.sleep", sleeps.append)
    assert download(REPO) == online  # the cached branch, without the HEAD request that would retry
    assert_snapshot(online, repo_files[COMMIT_1])
    assert sleeps == []


def test_environment_variables_alone_in_subprocesses(fake_hub, tmp_path, repo_files):
    """No patching: HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE set before huggingface_hub is imported."""
    code = "import sys; from translate.models.hub import download; print(download(*sys.argv[1:]))"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    base.pop("TRANSFORMERS_OFFLINE", None)
    base.update(HF_ENDPOINT=fake_hub.url, HF_HOME=str(tmp_path / "home"), HF_HUB_DISABLE_TELEMETRY="1")

    def run(*args: str, offline: bool) -> subprocess.CompletedProcess:
        env = {**base, "HF_HUB_OFFLINE": "1" if offline else "0"}
        return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=60)

    cold = run(REPO, "v2", offline=True)
    assert cold.returncode != 0 and "offline mode is on" in cold.stderr
    assert fake_hub.requests == []
    online = run(REPO, "v2", offline=False)
    assert online.returncode == 0, online.stderr
    folder = Path(online.stdout.strip())
    assert folder.is_relative_to(tmp_path / "home" / "hub") and folder.name == COMMIT_2
    assert_snapshot(folder, repo_files[COMMIT_2])
    fake_hub.clear()
    offline = run(REPO, "v2", offline=True)
    assert offline.returncode == 0, offline.stderr
    assert Path(offline.stdout.strip()) == folder
    assert fake_hub.requests == []


def test_importing_translate_hub_does_not_import_huggingface_hub():
    code = "import sys, translate.models.hub; print('huggingface_hub' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- hf:// ids


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("hf://owner/name", ("owner/name", None)),
        ("hf://owner/name@main", ("owner/name", "main")),
        ("hf://Org_1/my.model-v2@v1.0", ("Org_1/my.model-v2", "v1.0")),
        (f"hf://owner/name@{COMMIT_1}", ("owner/name", COMMIT_1)),
        ("hf://owner/name@refs/pr/3", ("owner/name", "refs/pr/3")),
    ],
)
def test_parse_hub_id(source, expected):
    assert parse_hub_id(source) == expected


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("owner/name", "not a Hub id"),
        ("https://huggingface.co/owner/name", "not a Hub id"),
        ("hf://", "no repository id"),
        ("hf://name", "owner/name"),
        ("hf://owner/", "name is empty"),
        ("hf:///name", "owner is empty"),
        ("hf://owner/name/model.safetensors", "not a file or folder inside it"),
        ("hf://owner/name@", "empty revision"),
        ("hf://owner/na me", "invalid repository name"),
        ("hf://owner/-name", "invalid repository name"),
        ("hf://owner/na..me", "invalid repository name"),
        ("hf://own--er/name", "invalid repository owner"),
        ("hf://owner/" + "n" * 97, "invalid repository name"),
        ("hf://owner/name.git", "invalid repository name"),
        ("hf://owner/caf\u00e9", "invalid repository name"),
        ("hf://owner/name@../../etc", "invalid revision"),
        ("hf://owner/name@a b", "invalid revision"),
        ("hf://owner/name@v1@v2", "invalid revision"),
    ],
)
def test_parse_hub_id_errors(source, problem):
    with pytest.raises(ModelFileError, match=problem):
        parse_hub_id(source)


def test_download_rejects_bad_ids_before_any_request(fake_hub, hub_env):
    hub_env(fake_hub.url)
    with pytest.raises(ModelFileError, match="owner/name"):
        download("just-a-name")
    with pytest.raises(ModelFileError, match="names revision 'v1' but revision='v2'"):
        download(f"hf://{REPO}@v1", "v2")
    assert fake_hub.requests == []


# --------------------------------------------------------------------------- push


@pytest.fixture
def model_folder(tmp_path) -> Path:
    """A valid model folder (tiny generator) plus a file that must not be uploaded."""
    from tests.support.tiny_plugin import TinyPlugin
    from translate.components.build import BuildContext
    from translate.components.method import ExportSpec
    from translate.models import config_json, read_metadata, save_model
    from translate.plugin.loading import load_plugins
    from translate.recipe import Recipe

    registry = load_plugins(extra=[("tinyplug", TinyPlugin())], entry_points=[]).registry
    recipe = Recipe.model_validate({"method": {"name": "pix2pix"}, "generator": {"name": "tiny"},
                                    "data": {"name": "facades"}, "train": {"epochs": 1}})
    ctx = BuildContext(recipe, registry, channels={})
    gen = ctx.generator(in_channels=3, out_channels=3)
    folder = tmp_path / "model"
    folder.mkdir()
    save_model(folder / "model.safetensors", method="pix2pix",
               exports=[(ExportSpec("AtoB", "G"), gen, ctx.record_of(gen))])
    (folder / "config.json").write_text(config_json(read_metadata(folder / "model.safetensors")))
    (folder / "README.md").write_text("# model\n")
    (folder / "notes.txt").write_text("private notes\n")
    return folder


@pytest.fixture
def fake_api(monkeypatch, hub_env, fake_hub):
    """Record HfApi calls instead of making them (no network)."""
    hub_env(fake_hub.url)
    calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", (repo_id,), kwargs))
        return f"{self.endpoint}/{repo_id}"

    def create_branch(self, repo_id, **kwargs):
        calls.append(("create_branch", (repo_id,), kwargs))

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", (), kwargs))
        return CommitInfo(commit_url=f"{self.endpoint}/{kwargs['repo_id']}/commit/{COMMIT_2}",
                          commit_message=kwargs["commit_message"], commit_description="", oid=COMMIT_2)

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_branch", create_branch)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    return calls


def test_push_creates_repo_and_uploads_only_the_model_files(model_folder, fake_api, fake_hub):
    url = push(model_folder, "alice/pushed", commit_message="first")
    assert url == f"{fake_hub.url}/alice/pushed/commit/{COMMIT_2}"
    assert [name for name, _, _ in fake_api] == ["create_repo", "upload_folder"]
    _, args, kwargs = fake_api[0]
    assert args == ("alice/pushed",)
    assert kwargs == {"repo_type": "model", "private": None, "exist_ok": True}
    _, _, kwargs = fake_api[1]
    assert kwargs == {
        "repo_id": "alice/pushed",
        "folder_path": model_folder,
        "repo_type": "model",
        "revision": None,
        "commit_message": "first",
        "allow_patterns": ["config.json", "model.safetensors", "README.md"],
    }
    assert fake_hub.requests == []


def test_push_private_to_a_branch(model_folder, fake_api):
    push(model_folder, "hf://alice/pushed@dev", private=True, token="hf_secret")
    assert [name for name, _, _ in fake_api] == ["create_repo", "create_branch", "upload_folder"]
    assert fake_api[0][2]["private"] is True
    assert fake_api[1][1] == ("alice/pushed",)
    assert fake_api[1][2] == {"branch": "dev", "repo_type": "model", "exist_ok": True}
    assert fake_api[2][2]["revision"] == "dev"
    assert fake_api[2][2]["commit_message"].startswith("Upload model with translate ")


def test_push_cli(model_folder, fake_api, capsys):
    parser = add_push_arguments(argparse.ArgumentParser(prog="translate push"))
    args = parser.parse_args([str(model_folder), "alice/pushed", "--revision", "dev", "--private",
                              "--token", "hf_x", "-m", "msg"])
    assert push_cli(args) == 0
    out = capsys.readouterr().out
    assert f"/alice/pushed/commit/{COMMIT_2}" in out
    assert f'translate.load("hf://alice/pushed@{COMMIT_2}")' in out
    assert fake_api[-1][2]["commit_message"] == "msg" and fake_api[-1][2]["revision"] == "dev"


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors"])
def test_push_refuses_an_incomplete_folder(model_folder, fake_api, missing):
    (model_folder / missing).unlink()
    with pytest.raises(ModelFileError, match=rf"not a model folder: {missing} is missing"):
        push(model_folder, "alice/pushed")
    assert fake_api == []


@pytest.mark.parametrize("name", ["README.md", "config.json"])
def test_push_refuses_a_named_pipe_in_the_folder(model_folder, fake_api, name):
    (model_folder / name).unlink()
    os.mkfifo(model_folder / name)
    with pytest.raises(ModelFileError, match=rf"{name}: is a named pipe \(FIFO\), not a regular file"):
        push(model_folder, "alice/pushed")
    assert fake_api == []


def test_push_refuses_invalid_files(model_folder, fake_api, tmp_path):
    save_file({"w": torch.zeros(2)}, str(model_folder / "model.safetensors"))  # no translate metadata
    with pytest.raises(ModelFileError, match="no translate metadata"):
        push(model_folder, "alice/pushed")
    with pytest.raises(ModelFileError, match="no such folder"):
        push(tmp_path / "nowhere", "alice/pushed")
    with pytest.raises(ModelFileError, match="not a folder"):
        push(model_folder / "README.md", "alice/pushed")
    with pytest.raises(ModelFileError, match="owner/name"):
        push(model_folder, "pushed")
    with pytest.raises(ModelFileError, match="commit hash"):
        push(model_folder, "alice/pushed", revision=COMMIT_1)
    assert fake_api == []


def test_push_refuses_a_config_that_disagrees(model_folder, fake_api):
    config = json.loads((model_folder / "config.json").read_text())
    config["method"] = "cyclegan"
    (model_folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="disagree"):
        push(model_folder, "alice/pushed")
    assert fake_api == []


def test_push_hub_refusal_is_a_clear_error(model_folder, hub_env, fake_hub):
    """The real HfApi against the fake Hub, which refuses every write (no token)."""
    hub_env(fake_hub.url)
    with pytest.raises(TranslateError, match=r"hf://alice/pushed: .*refused the push \(401\).*hf auth login"):
        push(model_folder, "alice/pushed")
    assert ("hub", "POST", "/api/repos/create") in fake_hub.requests
    assert not any(p.startswith("/api/alice") for p in fake_hub.paths())  # nothing uploaded

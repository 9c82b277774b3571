"""``translate push --space``: the Hugging Face Space running the demo of a pushed model (no network:
``HfApi`` calls are recorded, as in tests/translate/models/test_hub.py's push tests)."""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest
import yaml

from translate.errors import ModelFileError, TranslateError
from translate.models import read_metadata
from translate.models.hub import SPACE_FILES, add_push_arguments, push_cli, push_space, space_files
from translate.models.hub.space import GRADIO_VERSION
from translate.version import __version__

hf = pytest.importorskip("huggingface_hub")
from huggingface_hub import CommitOperationAdd, HfApi  # noqa: E402
from huggingface_hub.hf_api import CommitInfo  # noqa: E402

COMMIT = "3" * 8 + hashlib.sha1(b"three").hexdigest()[8:]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple, dict]]:
    """Record HfApi calls instead of making them; endpoint http://hub.invalid (never contacted)."""
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(hf.constants, "ENDPOINT", "http://hub.invalid")
    calls: list[tuple[str, tuple, dict]] = []

    def create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", (repo_id,), kwargs))
        return f"{self.endpoint}/{repo_id}"

    def upload_folder(self, **kwargs):
        calls.append(("upload_folder", (), kwargs))
        return CommitInfo(commit_url=f"{self.endpoint}/{kwargs['repo_id']}/commit/{COMMIT}",
                          commit_message=kwargs["commit_message"], commit_description="", oid=COMMIT)

    def create_commit(self, repo_id, **kwargs):
        calls.append(("create_commit", (repo_id,), kwargs))
        return CommitInfo(commit_url=f"{self.endpoint}/spaces/{repo_id}/commit/{COMMIT}",
                          commit_message=kwargs["commit_message"], commit_description="", oid=COMMIT)

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    return calls


def test_space_files(cyclegan_model: Path) -> None:
    meta = read_metadata(cyclegan_model / "model.safetensors")
    files = space_files(meta, f"hf://alice/night@{COMMIT}")
    assert tuple(files) == SPACE_FILES
    app = files["app.py"]
    ast.parse(app)
    assert f'MODEL = "hf://alice/night@{COMMIT}"' in app and 'launch(demo, service, host="0.0.0.0", port=7860)' in app
    assert files["requirements.txt"] == f"translate-i2i[demo]=={__version__}\n"  # built-in plugins only
    front = yaml.safe_load(files["README.md"].split("---\n")[1])
    assert front["sdk"] == "gradio" and front["app_file"] == "app.py" and front["models"] == ["alice/night"]
    installed = importlib.util.find_spec("gradio") is not None
    assert front["sdk_version"] == (importlib.metadata.version("gradio") if installed else GRADIO_VERSION)
    assert "day images" in files["README.md"] and "cyclegan" in files["README.md"]
    with pytest.raises(ModelFileError):
        space_files(meta, "alice/night")  # not an hf:// id


def test_space_requirements_name_third_party_plugins(cyclegan_model: Path) -> None:
    meta = read_metadata(cyclegan_model / "model.safetensors")
    g = meta.generators["AtoB"]
    other = g.model_copy(update={"plugin": g.plugin.model_copy(update={"distribution": "acme-nets", "version": "1.2"})})
    meta = meta.model_copy(update={"generators": {**meta.generators, "AtoB": other}})
    assert space_files(meta, "hf://alice/night")["requirements.txt"].splitlines() == [
        f"translate-i2i[demo]=={__version__}", "acme-nets==1.2"]


def test_the_space_app_builds_the_demo(cyclegan_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The generated app.py, run with the model id mapped to the local folder, builds the demo page."""
    pytest.importorskip("gradio")
    import translate.apps.serve.service as service_module

    meta = read_metadata(cyclegan_model / "model.safetensors")
    app = space_files(meta, "hf://alice/night")["app.py"]
    loaded: list[str] = []
    real = service_module.ModelService.__init__

    def local(self, source, **kwargs):
        loaded.append(source)
        real(self, cyclegan_model, device="cpu")

    monkeypatch.setattr(service_module.ModelService, "__init__", local)
    scope: dict[str, object] = {"__name__": "space_app"}
    exec(compile(app, "app.py", "exec"), scope)  # noqa: S102 - our own generated file
    assert loaded == ["hf://alice/night"]
    assert {"sketch-AtoB", "sketch-BtoA"} <= {getattr(b, "elem_id", None) for b in scope["demo"].blocks.values()}
    scope["service"].close()


def test_push_space_commits_the_three_files(cyclegan_model: Path, hub) -> None:
    meta = read_metadata(cyclegan_model / "model.safetensors")
    url = push_space("alice/night-demo", meta, f"hf://alice/night@{COMMIT}", private=True, token="hf_x")
    assert url == "http://hub.invalid/spaces/alice/night-demo"
    (name, args, kwargs), (name2, args2, kwargs2) = hub
    assert name == "create_repo" and args == ("alice/night-demo",)
    assert kwargs == {"repo_type": "space", "space_sdk": "gradio", "private": True, "exist_ok": True}
    assert name2 == "create_commit" and args2 == ("alice/night-demo",) and kwargs2["repo_type"] == "space"
    ops = kwargs2["operations"]
    assert all(isinstance(op, CommitOperationAdd) for op in ops)
    assert [op.path_in_repo for op in ops] == list(SPACE_FILES)
    assert ops[0].path_or_fileobj == space_files(meta, f"hf://alice/night@{COMMIT}")["app.py"].encode()
    with pytest.raises(ModelFileError):
        push_space("not a repo", meta, "hf://alice/night")


def test_push_cli_with_space_pins_the_pushed_commit(cyclegan_model: Path, hub, capsys) -> None:
    parser = add_push_arguments(argparse.ArgumentParser(prog="translate push"))
    args = parser.parse_args([str(cyclegan_model), "alice/night", "--space", "alice/night-demo"])
    assert push_cli(args) == 0
    assert [c[0] for c in hub] == ["create_repo", "upload_folder", "create_repo", "create_commit"]
    assert hub[0][2]["repo_type"] == "model" and hub[2][2]["repo_type"] == "space"
    app = next(op for op in hub[3][2]["operations"] if op.path_in_repo == "app.py").path_or_fileobj.decode()
    assert f'MODEL = "hf://alice/night@{COMMIT}"' in app  # the Space loads exactly the pushed commit
    out = capsys.readouterr().out
    assert "demo Space: http://hub.invalid/spaces/alice/night-demo" in out


def test_push_space_refusal_is_a_clear_error(cyclegan_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    class Response:
        status_code = 403
        headers: dict[str, str] = {}
        url = "http://hub.invalid/api/repos/create"
        request = None

    def refuse(self, repo_id, **kwargs):
        raise HfHubHTTPError("403 Forbidden: no write access", response=Response())

    monkeypatch.setattr(hf.constants, "ENDPOINT", "http://hub.invalid")
    monkeypatch.setattr(HfApi, "create_repo", refuse)
    meta = read_metadata(cyclegan_model / "model.safetensors")
    with pytest.raises(TranslateError, match=r"Space alice/night-demo: http://hub.invalid refused the push \(403\)"):
        push_space("alice/night-demo", meta, "hf://alice/night")

"""A Hugging Face Space running the demo of a pushed model: ``translate push DIR REPO --space OWNER/NAME``.

:func:`space_files` writes what a Gradio Space needs: ``app.py`` (the ``translate demo`` page of
the model, pinned to the pushed commit: ``hf://owner/name@commit``), ``requirements.txt``
(``translate-i2i[demo]`` at this version, plus the distribution of any third-party plugin whose
generator the model uses) and ``README.md`` (the Space card: ``sdk: gradio``, the Gradio version,
the model repository). :func:`push_space` commits them to the Space (created when missing) in one
commit through :class:`huggingface_hub.HfApi`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ...errors import TranslateError
from ...version import __version__
from .failures import first_line, is_offline, transport_errors
from .ids import check_repo_id, parse_hub_id

if TYPE_CHECKING:  # pragma: no cover
    from .. import ModelMeta

SPACE_FILES = ("app.py", "requirements.txt", "README.md")
"""The files a Space push writes (nothing else of the Space is touched)."""
GRADIO_VERSION = "6.31.0"
"""The Gradio version the Space card names when Gradio is not installed here (the one the demo is tested with)."""
_BUILTIN = ("translate-i2i", "(in-process)")

APP = '''"""The interactive demo of {model_json} (written by `translate push --space`; see translate's docs/serving.md)."""

from translate.apps.demo import build_demo, launch
from translate.apps.serve import ModelService

MODEL = {model_json}

service = ModelService(MODEL)
demo = build_demo(service)

if __name__ == "__main__":
    launch(demo, service, host="0.0.0.0", port=7860)
'''


def _gradio_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gradio")
    except metadata.PackageNotFoundError:
        return GRADIO_VERSION


def space_files(meta: "ModelMeta", model_id: str) -> dict[str, str]:
    """``app.py``, ``requirements.txt`` and ``README.md`` of a Space running the demo of ``model_id``.

    Args:
        meta: the model's metadata (for the plugins it needs and the card's title).
        model_id: ``hf://owner/name[@revision]``: what the Space loads (pin a commit for a stable demo).

    Raises:
        ModelFileError: ``model_id`` is not a Hub id.
    """
    from huggingface_hub import SpaceCardData

    repo, _ = parse_hub_id(model_id)
    requirements = [f"translate-i2i[demo]=={__version__}"]
    for g in meta.generators.values():
        line = f"{g.plugin.distribution}=={g.plugin.version}"
        if g.plugin.distribution not in _BUILTIN and line not in requirements:
            requirements.append(line)
    default = meta.generators[meta.default]
    title = f"{repo.split('/')[1]} demo"[:60]
    data = SpaceCardData(title=title, sdk="gradio", sdk_version=_gradio_version(), app_file="app.py",
                         models=[repo], tags=["translate", "image-to-image", meta.method])
    card = (f"---\n{data.to_yaml()}\n---\n\n# {title}\n\nDraw (or upload) {default.input_domain} images and see "
            f"them translated into {default.output_domain} by the {meta.method} model "
            f"[{repo}](https://huggingface.co/{repo}), with [translate](https://pypi.org/project/translate-i2i/) "
            f"{__version__}. The Space loads `{model_id}`.\n")
    return {"app.py": APP.format(model_json=json.dumps(model_id)), "requirements.txt": "\n".join(requirements) + "\n",
            "README.md": card}


def push_space(space_id: str, meta: "ModelMeta", model_id: str, *, private: bool = False, token: str | None = None,
               commit_message: str | None = None) -> str:
    """Commit the demo Space of ``model_id`` to ``space_id`` (created when missing, Gradio SDK); return its URL.

    Raises:
        ModelFileError: a malformed Space or model id.
        TranslateError: the Hub refused the push (authentication, permissions) or is unreachable.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    space_id = check_repo_id(space_id)
    files = space_files(meta, model_id)
    api = HfApi(token=token, library_name="translate", library_version=__version__)
    try:
        api.create_repo(space_id, repo_type="space", space_sdk="gradio", private=True if private else None,
                        exist_ok=True)
        api.create_commit(space_id, repo_type="space",
                          operations=[CommitOperationAdd(name, text.encode()) for name, text in files.items()],
                          commit_message=commit_message or f"Demo of {model_id} (translate {__version__})")
    except Exception as err:  # noqa: BLE001 - translated below, or re-raised untouched
        mapped = _space_error(err, space_id, api.endpoint)
        if mapped is err:
            raise
        raise mapped from None
    return f"{api.endpoint}/spaces/{space_id}"


def _space_error(err: BaseException, space_id: str, endpoint: str) -> BaseException:
    from huggingface_hub.errors import HfHubHTTPError

    label = f"Space {space_id}"
    if is_offline(err):
        return TranslateError(f"{label}: cannot push: offline mode is on (HF_HUB_OFFLINE=1)")
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        if status in (401, 403):
            return TranslateError(f"{label}: {endpoint} refused the push ({status}): log in with a token that can "
                                  f"write to {space_id} (hf auth login, HF_TOKEN, or --token): {first_line(err)}")
        return TranslateError(f"{label}: push to {endpoint} failed: {first_line(err)}")
    if isinstance(err, transport_errors()):
        return TranslateError(f"{label}: cannot reach {endpoint}: {type(err).__name__}: {first_line(err)}")
    return err


__all__ = ["GRADIO_VERSION", "SPACE_FILES", "push_space", "space_files"]

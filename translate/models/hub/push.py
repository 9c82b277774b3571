"""Uploading a model folder: ``translate push DIR REPO_ID`` and :func:`push`, through
:class:`huggingface_hub.HfApi` (repository and branch created when missing, one commit)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ...errors import ModelFileError, TranslateError
from .failures import first_line, is_offline, transport_errors
from .folder import check_model_folder
from .ids import COMMIT, hub_label, split_id


def push(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    revision: str | None = None,
    private: bool = False,
    token: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Upload a model folder to a Hub model repository (created when missing) and return the commit URL.

    Only ``config.json``, ``model.safetensors`` and ``README.md`` are uploaded; other files in
    the folder stay local.

    Args:
        folder: the model folder (``translate export`` output).
        repo_id: ``owner/name`` (``hf://owner/name[@branch]`` is accepted too).
        revision: the branch to commit to (created from ``main`` when missing); default ``main``.
        private: create the repository private. An existing repository keeps its visibility;
            without it a new repository gets the Hub's default (public unless the owner's
            settings say otherwise).
        token: a Hub token with write access; default: ``HF_TOKEN`` or the stored login.
        commit_message: default ``"Upload <folder name> with translate <version>"``.

    Raises:
        ModelFileError: the folder is not a valid model folder, or the id/revision is malformed.
        TranslateError: the Hub refused the upload (authentication, permissions) or is unreachable.
    """
    repo_id, revision = split_id(repo_id, revision)
    if revision is not None and COMMIT.fullmatch(revision):
        raise ModelFileError(f"{hub_label(repo_id, revision)}: cannot push to a commit hash; give a branch name")
    path = Path(folder)
    files = check_model_folder(path)
    from huggingface_hub import HfApi

    from ...version import __version__

    api = HfApi(token=token, library_name="translate", library_version=__version__)
    label = hub_label(repo_id, revision)
    message = commit_message or f"Upload {path.resolve().name} with translate {__version__}"
    try:
        api.create_repo(repo_id, repo_type="model", private=True if private else None, exist_ok=True)
        if revision is not None and revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="model", exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            folder_path=path,
            repo_type="model",
            revision=revision,
            commit_message=message,
            allow_patterns=files,
        )
    except Exception as err:  # noqa: BLE001 - translated below, or re-raised untouched
        mapped = _push_error(err, label, repo_id, api)
        if mapped is err:
            raise
        raise mapped from None
    return str(info.commit_url)


def _push_error(err: BaseException, label: str, repo_id: str, api: Any) -> BaseException:
    """A TranslateError naming the repository and the endpoint for ``err``; other errors unchanged."""
    from huggingface_hub.errors import HfHubHTTPError

    endpoint = api.endpoint
    if is_offline(err):
        return TranslateError(f"{label}: cannot push: offline mode is on (HF_HUB_OFFLINE=1)")
    if isinstance(err, HfHubHTTPError):
        status = err.response.status_code if err.response is not None else None
        if status in (401, 403):
            return TranslateError(
                f"{label}: {endpoint} refused the push ({status}): log in with a token that can write to "
                f"{repo_id} (hf auth login, HF_TOKEN, or --token): {first_line(err)}"
            )
        return TranslateError(f"{label}: push to {endpoint} failed: {first_line(err)}")
    if isinstance(err, transport_errors()):
        return TranslateError(f"{label}: cannot reach {endpoint}: {type(err).__name__}: {first_line(err)}")
    return err


# --------------------------------------------------------------------------- CLI


def add_push_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``translate push DIR REPO_ID [--revision R] [--private] [--token T] [--message M]``."""
    parser.add_argument("dir", metavar="DIR", help="model folder to upload (from `translate export`)")
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub model repository, owner/name (created when missing)")
    parser.add_argument("--revision", help="branch to commit to (created when missing; default: main)")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--token", help="Hub token with write access (default: HF_TOKEN or `hf auth login`)")
    parser.add_argument("-m", "--message", help="commit message")
    parser.add_argument("--space", metavar="OWNER/NAME",
                        help="also write a Hugging Face Space running the demo of the pushed model (app.py, "
                        "requirements.txt, README.md; created when missing)")
    return parser


def push_cli(args: argparse.Namespace) -> int:
    """``translate push DIR REPO_ID [--revision R] [--private] [--token T] [--message M] [--space OWNER/NAME]``."""
    repo_id, revision = split_id(args.repo_id, getattr(args, "revision", None))
    print(f"pushing {args.dir} to {hub_label(repo_id, revision)}", file=sys.stderr)
    url = push(
        args.dir,
        repo_id,
        revision=revision,
        private=bool(getattr(args, "private", False)),
        token=getattr(args, "token", None),
        commit_message=getattr(args, "message", None),
    )
    commit = url.rstrip("/").rsplit("/", 1)[-1]
    print(f"pushed {args.dir} to {hub_label(repo_id, revision)}: {url}")
    pin = commit if COMMIT.fullmatch(commit) else revision
    print(f'load it with: translate.load("{hub_label(repo_id, pin)}")')
    if getattr(args, "space", None):
        from .. import MODEL_FILENAME, read_metadata
        from .space import push_space

        space = push_space(args.space, read_metadata(Path(args.dir) / MODEL_FILENAME), hub_label(repo_id, pin),
                           private=bool(getattr(args, "private", False)), token=getattr(args, "token", None))
        print(f"demo Space: {space} (the Hub builds it in a few minutes)")
    return 0


__all__ = ["add_push_arguments", "push", "push_cli"]

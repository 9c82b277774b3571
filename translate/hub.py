"""The Hugging Face Hub: ``translate push DIR REPO_ID`` and ``hf://owner/name[@revision]`` downloads.

Everything goes through ``huggingface_hub`` (imported lazily, inside the functions), so its
settings apply unchanged:

- the cache (``HF_HOME`` / ``HF_HUB_CACHE``, or ``cache_dir=``): a model is downloaded once per
  commit and shared with every other library using the Hub cache;
- offline mode (``HF_HUB_OFFLINE=1``): a model already in the cache loads without any network
  access; one that is not gives a clear error saying so;
- the endpoint (``HF_ENDPOINT``), the token (``HF_TOKEN`` or ``hf auth login``).

As in ``huggingface_hub``, these environment variables are read when ``huggingface_hub`` is
first imported.

A download fetches exactly the files of a model folder, by these fixed names:
``config.json`` and ``model.safetensors`` (required) and ``README.md`` (optional). Nothing else in
the repository is fetched, and nothing is executed or unpickled: the model file is read later,
by :func:`translate.modelfile.load_model`, as a safetensors file. All files of one download come
from one commit (the first file's commit pins the others), so a branch that moves while
downloading cannot mix two versions.

Every problem raises :class:`~translate.errors.ModelFileError` naming the repository and the
revision: a malformed id, a repository, revision or file that does not exist, the network, or
offline mode with a cold cache.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

from .errors import ModelFileError, TranslateError

HUB_PREFIX = "hf://"
CONFIG_FILENAME = "config.json"
MODEL_FILENAME = "model.safetensors"
README_FILENAME = "README.md"
REQUIRED_FILES: tuple[str, ...] = (CONFIG_FILENAME, MODEL_FILENAME)
OPTIONAL_FILES: tuple[str, ...] = (README_FILENAME,)
MODEL_FOLDER_FILES: tuple[str, ...] = REQUIRED_FILES + OPTIONAL_FILES
"""The only file names a download fetches and a push uploads."""

# What the Hub accepts for a user, organisation or repository name (huggingface_hub's
# ``validate_repo_id``): ASCII letters, digits, ``_ . -``, at most 96, not starting or ending
# with ``.`` or ``-``, no ``--`` or ``..``.
_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
_REVISION = re.compile(r"[A-Za-z0-9_.+/-]{1,255}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_FORM = "expected hf://owner/name or hf://owner/name@revision"


# --------------------------------------------------------------------------- ids


def parse_hub_id(source: str) -> tuple[str, str | None]:
    """``"hf://owner/name@rev"`` -> ``("owner/name", "rev")``; without ``@rev`` the revision is None.

    The revision is a branch, a tag or a commit hash (it may contain ``/``, e.g. ``refs/pr/1``).

    Raises:
        ModelFileError: the id is malformed (the message says what is wrong).
    """
    if not isinstance(source, str):
        raise ModelFileError(f"{source!r}: not a Hub id ({_FORM})")
    if not source.startswith(HUB_PREFIX):
        raise ModelFileError(f"{source!r}: not a Hub id; {_FORM}")
    body = source[len(HUB_PREFIX):]
    repo, at, revision = body.partition("@")
    repo_id = check_repo_id(repo, source=source)
    if not at:
        return repo_id, None
    if not revision:
        raise ModelFileError(f"{source!r}: empty revision after '@'; {_FORM}")
    return repo_id, check_revision(revision, source=source)


def check_repo_id(repo_id: str, *, source: str | None = None) -> str:
    """Return ``repo_id`` when it is a valid ``owner/name``; raise ModelFileError saying why not."""
    where = repr(source if source is not None else repo_id)
    if not isinstance(repo_id, str) or not repo_id:
        raise ModelFileError(f"{where}: no repository id; {_FORM}")
    parts = repo_id.split("/")
    if len(parts) == 1:
        raise ModelFileError(f"{where}: a repository id is owner/name (a user or organisation, then the name); {_FORM}")
    if len(parts) > 2:
        raise ModelFileError(
            f"{where}: {repo_id!r} has {len(parts) - 1} '/'; a Hub id names a repository (owner/name), "
            f"not a file or folder inside it; {_FORM}"
        )
    for label, part in zip(("owner", "name"), parts):
        if not part:
            raise ModelFileError(f"{where}: the repository {label} is empty; {_FORM}")
        if not _NAME.fullmatch(part) or "--" in part or ".." in part:
            raise ModelFileError(
                f"{where}: invalid repository {label} {part!r}: use ASCII letters, digits, '_', '.' and '-' "
                "(at most 96, not starting or ending with '.' or '-', no '--' or '..')"
            )
    return repo_id


def check_revision(revision: str, *, source: str | None = None) -> str:
    """Return ``revision`` when it looks like a branch, tag or commit hash; raise ModelFileError if not."""
    where = repr(source if source is not None else revision)
    if (
        not isinstance(revision, str)
        or not _REVISION.fullmatch(revision)
        or ".." in revision
        or "//" in revision
        or revision.startswith(("/", "-", "."))
        or revision.endswith(("/", ".", ".lock"))
    ):
        raise ModelFileError(
            f"{where}: invalid revision {revision!r}: expected a branch, tag or commit hash "
            "(ASCII letters, digits and '_ . + / -')"
        )
    return revision


def hub_label(repo_id: str, revision: str | None) -> str:
    """``hf://owner/name`` or ``hf://owner/name@revision``, as users write it."""
    return f"{HUB_PREFIX}{repo_id}" + (f"@{revision}" if revision else "")


def _split(repo_id: str, revision: str | None) -> tuple[str, str | None]:
    """Accept ``owner/name`` or ``hf://owner/name[@rev]``; a revision in both places must agree."""
    if isinstance(repo_id, str) and repo_id.startswith(HUB_PREFIX):
        repo, rev = parse_hub_id(repo_id)
        if rev is not None and revision is not None and rev != revision:
            raise ModelFileError(f"{repo_id!r}: names revision {rev!r} but revision={revision!r} was given")
        return repo, revision if revision is not None else rev
    repo = check_repo_id(repo_id)
    return repo, None if revision is None else check_revision(revision)


# --------------------------------------------------------------------------- download


def download(
    repo_id: str,
    revision: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | None = None,
) -> Path:
    """Download a model folder from the Hub (or find it in the cache) and return its local folder.

    Args:
        repo_id: ``owner/name`` (``hf://owner/name[@revision]`` is accepted too).
        revision: a branch, tag or commit hash; default: the repository's default branch (``main``).
        cache_dir: the Hub cache to use; default: ``huggingface_hub``'s (``HF_HUB_CACHE``).
        token: a Hub token for private repositories; default: ``HF_TOKEN`` or the stored login.

    Returns:
        The snapshot folder in the Hub cache holding ``config.json``, ``model.safetensors`` and,
        when the repository has one, ``README.md``. Its name is the commit hash.

    Raises:
        ModelFileError: malformed id; repository, revision or required file not found; network
            failure; or offline mode (``HF_HUB_OFFLINE=1``) with the model not in the cache.
    """
    repo_id, revision = _split(repo_id, revision)
    from huggingface_hub import hf_hub_download

    from .version import __version__

    snapshot: Path | None = None
    pinned = revision  # after the first file: the commit hash it came from
    for filename in MODEL_FOLDER_FILES:
        optional = filename in OPTIONAL_FILES
        if optional and pinned is not None and _known_missing(repo_id, filename, pinned, cache_dir):
            continue
        try:
            path = Path(
                hf_hub_download(
                    repo_id,
                    filename,
                    repo_type="model",
                    revision=pinned,
                    cache_dir=cache_dir,
                    token=token,
                    library_name="translate",
                    library_version=__version__,
                )
            )
        except Exception as err:  # noqa: BLE001 - translated below, or re-raised untouched
            if optional and _is_missing(err):
                continue
            mapped = _download_error(err, repo_id, revision, filename, cache_dir)
            if mapped is err:
                raise
            raise mapped from None
        if snapshot is None:
            snapshot = path.parent
            if _COMMIT.fullmatch(snapshot.name):
                pinned = snapshot.name
        elif path.parent != snapshot:  # pragma: no cover - huggingface_hub keeps one folder per commit
            raise ModelFileError(
                f"{hub_label(repo_id, revision)}: {filename} came from another commit ({path.parent.name}) "
                f"than {CONFIG_FILENAME} ({snapshot.name}); download again"
            )
    assert snapshot is not None
    return snapshot


def _known_missing(repo_id: str, filename: str, commit: str, cache_dir: Any) -> bool:
    """True when the cache recorded that ``filename`` does not exist at ``commit`` (no request needed)."""
    from huggingface_hub import file_download

    try:
        found = file_download.try_to_load_from_cache(
            repo_id, filename, cache_dir=cache_dir, revision=commit, repo_type="model"
        )
    except Exception:  # noqa: BLE001 - a cache probe must never break a download
        return False
    return found is getattr(file_download, "_CACHED_NO_EXIST", object())


def _is_missing(err: BaseException) -> bool:
    """The file is not on the Hub, or not in the cache while offline / unreachable (for optional files)."""
    from huggingface_hub.errors import LocalEntryNotFoundError, RemoteEntryNotFoundError

    return isinstance(err, (RemoteEntryNotFoundError, LocalEntryNotFoundError))


def _offline(err: BaseException) -> bool:
    from huggingface_hub import constants
    from huggingface_hub.errors import OfflineModeIsEnabled

    if constants.is_offline_mode():
        return True
    seen: set[int] = set()
    cur: BaseException | None = err
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, OfflineModeIsEnabled):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _root_cause(err: BaseException) -> str:
    seen: set[int] = set()
    cur = err
    while id(cur) not in seen:
        seen.add(id(cur))
        nxt = cur.__cause__ or cur.__context__
        if nxt is None:
            break
        cur = nxt
    text = str(cur).strip().splitlines()
    return f"{type(cur).__name__}: {text[0] if text else ''}".rstrip(": ")


def _first_line(err: BaseException) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's error base classes (``httpx2`` or ``httpx``, whichever huggingface_hub uses)."""
    import importlib

    found: list[type[BaseException]] = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def _download_error(
    err: BaseException, repo_id: str, revision: str | None, filename: str, cache_dir: Any
) -> BaseException:
    """A ModelFileError naming the repository and revision for ``err``; other errors unchanged."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    label = hub_label(repo_id, revision)
    rev = revision or "main"
    endpoint = constants.ENDPOINT
    cache = Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)
    if _offline(err):
        return ModelFileError(
            f"{label}: the model is not in the Hugging Face cache ({cache}; {filename} of repository {repo_id} "
            f"at revision {rev!r} is missing) and offline mode is on (HF_HUB_OFFLINE=1), so it cannot be "
            "downloaded; run once with network access and offline mode off to cache it"
        )
    if isinstance(err, GatedRepoError):
        return ModelFileError(
            f"{label}: repository {repo_id} is gated on {endpoint}; accept its conditions on its Hub page and "
            "log in (hf auth login, or set HF_TOKEN)"
        )
    if isinstance(err, RepositoryNotFoundError):
        return ModelFileError(
            f"{label}: repository {repo_id} not found on {endpoint} (revision {rev!r}); check the name, and if "
            "it is private, log in (hf auth login, or set HF_TOKEN)"
        )
    if isinstance(err, RevisionNotFoundError):
        return ModelFileError(
            f"{label}: revision {rev!r} not found in repository {repo_id} on {endpoint}; give an existing "
            "branch, tag or commit hash"
        )
    if isinstance(err, RemoteEntryNotFoundError):
        return ModelFileError(
            f"{label}: repository {repo_id} at revision {rev!r} has no {filename}; it is not a translate model "
            f"folder (expected {', '.join(REQUIRED_FILES)}; make one with `translate export` and `translate push`)"
        )
    if isinstance(err, LocalEntryNotFoundError):
        return ModelFileError(
            f"{label}: cannot download {filename} of repository {repo_id} at revision {rev!r} from {endpoint}, "
            f"and it is not in the cache ({cache}): {_root_cause(err)}; check the network (or HF_ENDPOINT)"
        )
    if isinstance(err, HfHubHTTPError):
        return ModelFileError(
            f"{label}: downloading {filename} of repository {repo_id} at revision {rev!r} from {endpoint} "
            f"failed: {_first_line(err)}"
        )
    if isinstance(err, (*_transport_errors(), OSError)):
        return ModelFileError(
            f"{label}: downloading {filename} of repository {repo_id} at revision {rev!r} from {endpoint} "
            f"failed: {type(err).__name__}: {_first_line(err)}"
        )
    return err


# --------------------------------------------------------------------------- push


def check_model_folder(folder: str | os.PathLike[str]) -> list[str]:
    """Check that ``folder`` is a model folder and return the names of its files to upload.

    A model folder (``translate export``) holds ``config.json`` and ``model.safetensors``
    (required; the model file's metadata and the config are validated and must agree) and
    optionally ``README.md``.

    Raises:
        ModelFileError: the folder is missing, incomplete, or its files are invalid.
    """
    from .modelfile import read_metadata

    p = Path(folder)
    if not p.exists():
        raise ModelFileError(f"{p}: no such folder")
    if not p.is_dir():
        raise ModelFileError(
            f"{p}: not a folder; push takes a model folder holding {', '.join(REQUIRED_FILES)} "
            "(make one with `translate export RUN`)"
        )
    missing = [name for name in REQUIRED_FILES if not (p / name).is_file()]
    if missing:
        raise ModelFileError(
            f"{p}: not a model folder: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
            f"(a model folder holds {', '.join(MODEL_FOLDER_FILES)}; make one with `translate export RUN`)"
        )
    model_path = p / MODEL_FILENAME
    meta = read_metadata(model_path)
    try:
        from .modelfile import check_config, read_config
    except ImportError:  # pragma: no cover - older modelfile without config helpers
        pass
    else:
        config_path = p / CONFIG_FILENAME
        check_config(config_path, model_path, read_config(config_path), meta)
    return [name for name in MODEL_FOLDER_FILES if (p / name).is_file()]


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
    repo_id, revision = _split(repo_id, revision)
    if revision is not None and _COMMIT.fullmatch(revision):
        raise ModelFileError(f"{hub_label(repo_id, revision)}: cannot push to a commit hash; give a branch name")
    path = Path(folder)
    files = check_model_folder(path)
    from huggingface_hub import HfApi

    from .version import __version__

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
    return str(getattr(info, "commit_url", info))


def _push_error(err: BaseException, label: str, repo_id: str, api: Any) -> BaseException:
    from huggingface_hub.errors import HfHubHTTPError

    endpoint = getattr(api, "endpoint", "the Hub")
    if _offline(err):
        return TranslateError(f"{label}: cannot push: offline mode is on (HF_HUB_OFFLINE=1)")
    if isinstance(err, HfHubHTTPError):
        status = getattr(getattr(err, "response", None), "status_code", None)
        if status in (401, 403):
            return TranslateError(
                f"{label}: {endpoint} refused the push ({status}): log in with a token that can write to "
                f"{repo_id} (hf auth login, HF_TOKEN, or --token): {_first_line(err)}"
            )
        return TranslateError(f"{label}: push to {endpoint} failed: {_first_line(err)}")
    if isinstance(err, (*_transport_errors(), OSError)):
        return TranslateError(f"{label}: cannot reach {endpoint}: {type(err).__name__}: {_first_line(err)}")
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
    return parser


def push_cli(args: argparse.Namespace) -> int:
    """``translate push DIR REPO_ID [--revision R] [--private] [--token T] [--message M]``."""
    repo_id, revision = _split(args.repo_id, getattr(args, "revision", None))
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
    pin = commit if _COMMIT.fullmatch(commit) else revision
    print(f'load it with: translate.load("{hub_label(repo_id, pin)}")')
    return 0


__all__ = [
    "MODEL_FOLDER_FILES",
    "add_push_arguments",
    "check_model_folder",
    "download",
    "hub_label",
    "parse_hub_id",
    "push",
    "push_cli",
]

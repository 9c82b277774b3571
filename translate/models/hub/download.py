"""Downloading a model folder from the Hub into the Hugging Face cache: ``download(repo_id, revision)``.

The files are fetched one by one with :func:`huggingface_hub.hf_hub_download`, by their fixed names
(:data:`~translate.models.hub.folder.MODEL_FOLDER_FILES`), so nothing else in the repository is fetched and
no listing request is made: a download of a cached branch costs one ``HEAD`` request, one of a
cached commit none. (``snapshot_download(allow_patterns=...)`` would list the repository first.)
The first file's commit pins the others, so a branch that moves while downloading cannot mix two
versions. ``huggingface_hub``'s typed errors become :class:`~translate.errors.ModelFileError`
messages naming the repository, the revision and the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import ModelFileError
from .failures import first_line, is_offline, root_cause, transport_errors
from .folder import MODEL_FOLDER_FILES, OPTIONAL_FILES, REQUIRED_FILES
from .ids import COMMIT, hub_label, split_id

_LOGIN = "log in (hf auth login, or set HF_TOKEN)"


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
    repo_id, revision = split_id(repo_id, revision)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from ...version import __version__
    from ..reachability import hub_unreachable

    unreachable = hub_unreachable()  # then only the cache is read: no minute of retries per file
    snapshot: Path | None = None
    pinned = revision  # after the first file: the commit hash it came from
    for filename in MODEL_FOLDER_FILES:
        optional = filename in OPTIONAL_FILES
        if optional and pinned is not None and _known_missing(repo_id, filename, pinned, cache_dir):
            continue
        try:
            path = Path(hf_hub_download(
                repo_id, filename, repo_type="model", revision=pinned, cache_dir=cache_dir, token=token,
                library_name="translate", library_version=__version__, local_files_only=unreachable is not None,
            ))
        except Exception as err:  # noqa: BLE001 - translated below, or re-raised untouched
            if optional and isinstance(err, EntryNotFoundError):  # not on the Hub, or not cached while offline
                continue
            mapped = _download_error(err, repo_id, revision, filename, cache_dir, unreachable)
            if mapped is err:
                raise
            raise mapped from None
        if snapshot is None:
            snapshot = path.parent
            if COMMIT.fullmatch(snapshot.name):
                pinned = snapshot.name
        elif path.parent != snapshot:  # pragma: no cover - huggingface_hub keeps one folder per commit
            raise ModelFileError(
                f"{hub_label(repo_id, revision)}: {filename} came from another commit ({path.parent.name}) "
                f"than {MODEL_FOLDER_FILES[0]} ({snapshot.name}); download again"
            )
    assert snapshot is not None
    return snapshot


def _known_missing(repo_id: str, filename: str, commit: str, cache_dir: Any) -> bool:
    """True when the cache recorded that ``filename`` does not exist at ``commit`` (no request needed).

    :func:`huggingface_hub.try_to_load_from_cache` returns a path (cached), None (not known), or a
    marker object when the file is known to be missing.
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=commit, repo_type="model")
    except Exception:  # noqa: BLE001 - a cache probe must never break a download
        return False
    return found is not None and not isinstance(found, str)


def _download_error(
    err: BaseException, repo_id: str, revision: str | None, filename: str, cache_dir: Any,
    unreachable: str | None = None,
) -> BaseException:
    """A ModelFileError naming the repository and revision for ``err``; other errors unchanged."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    facts = {
        "repo": repo_id,
        "rev": repr(revision or "main"),
        "file": filename,
        "endpoint": constants.ENDPOINT,
        "cache": Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE),
        "required": ", ".join(REQUIRED_FILES),
    }
    what = "{file} of repository {repo} at revision {rev}"
    messages: list[tuple[Any, str]] = [  # the first that matches; subclasses before their bases
        (GatedRepoError, f"repository {{repo}} is gated on {{endpoint}}; accept its conditions on its Hub page "
                         f"and {_LOGIN}"),
        (RepositoryNotFoundError, f"repository {{repo}} not found on {{endpoint}} (revision {{rev}}); check the "
                                  f"name, and if it is private, {_LOGIN}"),
        (RevisionNotFoundError, "revision {rev} not found in repository {repo} on {endpoint}; give an existing "
                                "branch, tag or commit hash"),
        (LocalEntryNotFoundError, f"cannot download {what} from {{endpoint}}, and it is not in the cache "
                                  "({cache}): {cause}; check the network (or HF_ENDPOINT)"),
        (EntryNotFoundError, "repository {repo} at revision {rev} has no {file}; it is not a translate model "
                             "folder (expected {required}; make one with `translate export` and `translate push`)"),
        (HfHubHTTPError, f"downloading {what} from {{endpoint}} failed: {{first}}"),
        (transport_errors(), f"downloading {what} from {{endpoint}} failed: {{kind}}: {{first}}"),
    ]
    label = hub_label(repo_id, revision)
    if is_offline(err):
        return ModelFileError(
            f"{label}: the model is not in the Hugging Face cache ({facts['cache']}; " + what.format(**facts)
            + " is missing) and offline mode is on (HF_HUB_OFFLINE=1), so it cannot be downloaded; run once "
            "with network access and offline mode off to cache it"
        )
    if unreachable is not None and isinstance(err, LocalEntryNotFoundError):
        return ModelFileError(
            f"{label}: the model is not in the Hugging Face cache ({facts['cache']}; " + what.format(**facts)
            + f" is missing) and {unreachable}; connect, or copy the model folder here and give its path"
        )
    for kinds, text in messages:
        if isinstance(err, kinds):
            details = {"cause": root_cause(err), "first": first_line(err), "kind": type(err).__name__}
            return ModelFileError(f"{label}: " + text.format(**facts, **details))
    return err


__all__ = ["download"]

"""Hub ids as users write them: ``hf://owner/name[@revision]``, checked before any request.

The character rules of a repository name are ``huggingface_hub``'s own
(:func:`huggingface_hub.utils.validate_repo_id`, imported only when an id is checked); on top of
them a translate model id always names its owner, never a file inside the repository, and is
ASCII. Revisions (branches, tags, commit hashes) are checked here: ``huggingface_hub`` has no
validator for them.
"""

from __future__ import annotations

import re

from ...errors import ModelFileError

HUB_PREFIX = "hf://"
COMMIT = re.compile(r"[0-9a-f]{40}")
"""A full commit hash."""

_REVISION = re.compile(r"[A-Za-z0-9_.+/-]{1,255}")
_FORM = "expected hf://owner/name or hf://owner/name@revision"


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
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

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
        try:
            validate_repo_id(part)
            valid = part.isascii()
        except HFValidationError:
            valid = False
        if not valid:
            raise ModelFileError(
                f"{where}: invalid repository {label} {part!r}: use ASCII letters, digits, '_', '.' and '-' "
                "(at most 96, not starting or ending with '.' or '-', no '--' or '..', not ending in '.git')"
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


def split_id(repo_id: str, revision: str | None) -> tuple[str, str | None]:
    """Accept ``owner/name`` or ``hf://owner/name[@rev]``; a revision in both places must agree."""
    if isinstance(repo_id, str) and repo_id.startswith(HUB_PREFIX):
        repo, rev = parse_hub_id(repo_id)
        if rev is not None and revision is not None and rev != revision:
            raise ModelFileError(f"{repo_id!r}: names revision {rev!r} but revision={revision!r} was given")
        return repo, revision if revision is not None else rev
    repo = check_repo_id(repo_id)
    return repo, None if revision is None else check_revision(revision)


__all__ = ["COMMIT", "HUB_PREFIX", "check_repo_id", "check_revision", "hub_label", "parse_hub_id", "split_id"]

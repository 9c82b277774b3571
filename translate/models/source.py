"""Where a model comes from: a local folder or file, or a Hub id ``hf://owner/name[@revision]``.

:func:`resolve_source` turns either into a local path for :func:`translate.models.load_model`;
``translate.load`` (:mod:`translate.inference.pipeline`) and ``translate infer`` (:mod:`translate.inference`)
both go through it, so a model name means the same in the Python API and on the command line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ModelFileError
from .hub import HUB_PREFIX, download, parse_hub_id

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def resolve_source(source: str | os.PathLike[str]) -> Path:
    """A local model folder or file for ``source``; ``hf://`` ids are downloaded by :mod:`translate.models.hub`.

    A local path is returned as it is (a missing one is reported when the model is loaded),
    except that a missing ``owner/name`` that looks like a Hub repository gets a hint.

    Raises:
        ModelFileError: a malformed Hub id, a failed download, or a missing ``owner/name`` path
            (the message suggests ``hf://owner/name``).
    """
    text = os.fspath(source)
    if isinstance(text, str) and text.startswith(HUB_PREFIX):
        repo, revision = parse_hub_id(text)
        return download(repo, revision)
    path = Path(text)
    if not path.exists() and isinstance(text, str) and _REPO.match(text) and not text.endswith(".safetensors"):
        raise ModelFileError(f"{text}: no such model folder or file (for a Hugging Face Hub model use hf://{text})")
    return path


__all__ = ["resolve_source"]

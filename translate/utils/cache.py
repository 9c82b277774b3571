"""translate's user cache: ``~/.cache/translate/<part>`` and small JSON records kept under a key.

The parts (downloaded weights, exported ONNX files, speed calibrations, backend choices) share one
root, ``$XDG_CACHE_HOME/translate`` when that is set. A keyed record is a JSON file named by a
digest of its key that holds the key itself; reading compares the key, so a digest collision, a
stale file or a damaged one only means the record is measured again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from .atomic import write_text_atomic


def cache_folder(part: str) -> Path:
    """``~/.cache/translate/<part>`` (``$XDG_CACHE_HOME/translate/<part>`` when that is set)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "translate" / part


def keyed_file(folder: Path, key: Mapping[str, Any]) -> Path:
    """The file in ``folder`` that holds the record of ``key`` (a JSON-able mapping)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return folder / f"{digest}.json"


def read_keyed(folder: Path, key: Mapping[str, Any]) -> tuple[dict[str, Any], Path] | None:
    """The record kept for ``key`` in ``folder`` and its file; None when absent, unreadable or another key's."""
    path = keyed_file(folder, key)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != json.loads(json.dumps(key, default=str)):
        return None
    return data, path


def write_keyed(folder: Path, key: Mapping[str, Any], record: Mapping[str, Any]) -> Path | None:
    """Keep ``record`` for ``key`` in ``folder`` (atomically); None when the folder cannot be written,
    which only means the next use measures again."""
    path = keyed_file(folder, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({"key": key, **record}, indent=1, sort_keys=True, default=str))
    except OSError:
        return None
    return path


__all__ = ["cache_folder", "keyed_file", "read_keyed", "write_keyed"]

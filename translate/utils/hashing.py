"""File fingerprints: the sha256 of a file, as protocols, model cards and downloads record it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_SHA256: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The sha256 of a file as hex (remembered per path, size and modification time within a process)."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _SHA256:
        with open(path, "rb") as fh:
            _SHA256[key] = hashlib.file_digest(fh, "sha256").hexdigest()
    return _SHA256[key]


__all__ = ["file_sha256"]

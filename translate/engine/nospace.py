"""A full disk (ENOSPC, or a quota: EDQUOT) while saving: one clear error instead of a traceback."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import torch

from ..errors import TranslateError

_FULL = {errno.ENOSPC, errno.EDQUOT}


class DiskFull(TranslateError):
    """The disk (or quota) filled up while translate was writing a checkpoint or a model file."""


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or what it wraps, e.g. a safetensors error) is an out-of-space error."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _FULL:
            return True
        if "No space left on device" in str(err) or "Disk quota exceeded" in str(err):
            return True
        err = err.__cause__ or err.__context__  # type: ignore[assignment]
    return False


def state_nbytes(obj: Any) -> int:
    """Bytes held by the tensors in a nested state (dicts, lists, tuples)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(state_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(state_nbytes(v) for v in obj)
    return 0


def human_size(nbytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024  # type: ignore[assignment]
    raise AssertionError


def disk_full_error(what: str, where: Path, nbytes: int, last_good: Path | None) -> DiskFull:
    """The message for a full disk: what was written, where, about how much space it needs, what is kept."""
    kept = (f"the last good checkpoint {last_good} is intact" if last_good is not None
            else "no earlier checkpoint exists")
    return DiskFull(
        f"no space left on the device while writing {what} to {where} (it needs about "
        f"{human_size(nbytes)}); nothing partial was left behind and {kept}; free some space "
        "(or set output.keep_checkpoints lower) and run again with --resume"
    )

"""A full disk (ENOSPC, or a quota: EDQUOT) while saving: one clear error instead of a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import TranslateError
from ..utils.disk import format_size, is_disk_full

__all__ = ["DiskFull", "disk_full_error", "is_disk_full", "state_nbytes"]


class DiskFull(TranslateError):
    """The disk (or quota) filled up while translate was writing a checkpoint or a model file."""


def state_nbytes(obj: Any) -> int:
    """Bytes held by the tensors in a nested state (dicts, lists, tuples)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(state_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(state_nbytes(v) for v in obj)
    return 0


def disk_full_error(what: str, where: Path, nbytes: int, last_good: Path | None) -> DiskFull:
    """The message for a full disk: what was written, where, about how much space it needs, what is kept."""
    kept = (f"the last good checkpoint {last_good} is intact" if last_good is not None
            else "no earlier checkpoint exists")
    return DiskFull(
        f"no space left on the device while writing {what} to {where} (it needs about "
        f"{format_size(nbytes)}); nothing partial was left behind and {kept}; free some space "
        "(or set output.keep_checkpoints lower) and run again with --resume"
    )

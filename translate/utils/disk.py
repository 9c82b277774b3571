"""Disk space, for messages: sizes in human units, and recognising a full disk behind any error."""

from __future__ import annotations

import errno

_FULL = {errno.ENOSPC, errno.EDQUOT}


def format_size(size: int | None) -> str:
    """``30168306`` -> ``"28.8 MiB"``; None -> ``"?"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def is_disk_full(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it wraps, e.g. a safetensors error) is an out-of-space error (ENOSPC, EDQUOT)."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in _FULL:
            return True
        if "No space left on device" in str(err) or "Disk quota exceeded" in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False

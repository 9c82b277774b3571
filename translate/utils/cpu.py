"""The CPU this process runs on: its model, the features that decide its speed, the cores it may use.

Read from ``/proc/cpuinfo`` on Linux (elsewhere the model from :func:`platform.processor` and the
features unknown); the run log, ``environment.json``, the benchmarks and the speed caches name the
machine with it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

CPU_FEATURES = {"avx2": ("avx2",), "avx512": ("avx512f",), "avx512_bf16": ("avx512_bf16",),
                "amx": ("amx_tile", "amx_bf16")}
"""The CPU features that decide the speed of training and inference: name -> /proc/cpuinfo flags (any)."""


def cpu_info() -> dict[str, Any]:
    """The CPU model and features (from /proc/cpuinfo on Linux), the logical cores and those this process may use."""
    model, named = platform.processor() or None, False
    flags: set[str] | None = None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key = line.split(":", 1)[0].strip().lower()
            if key == "model name" and not named:
                model, named = line.split(":", 1)[1].strip(), True
            elif key == "flags" and flags is None:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    features = ({name: any(f in flags for f in names) for name, names in CPU_FEATURES.items()}
                if flags is not None else None)  # None: not known on this system
    return {"model": model, "logical_cores": os.cpu_count(), "usable_cores": usable, "features": features}


def cpu_summary() -> str:
    """The CPU model and its speed-relevant features in one line, for logs and benchmark output."""
    cpu = cpu_info()
    features = cpu["features"]
    have = ("features unknown" if features is None else
            ", ".join(name.upper().replace("_", "-") for name, on in features.items() if on) or "no AVX2")
    return f"{cpu['model'] or 'unknown CPU'} ({have}; {cpu['usable_cores']} cores usable)"


__all__ = ["CPU_FEATURES", "cpu_info", "cpu_summary"]

"""The training environment of a run: ``RUN/environment.json``.

What a reader needs to reproduce or compare a run: the Python and platform, the CPU, the
versions of torch and the libraries translate trains with, CUDA/cuDNN and the GPUs when there
are any, the number of processes, and the plugins that were loaded (distribution and version).
Versions are read from the installed distributions' metadata, so nothing is imported for them.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from ..run.layout import RunFolder
from ..utils.atomic import write_text_atomic
from ..utils.cpu import CPU_FEATURES, cpu_info, cpu_summary
from ..version import __version__

ENVIRONMENT_FILE = RunFolder.ENVIRONMENT
"""The file name inside the run folder."""

LIBRARIES = ("torch", "accelerate", "torchvision", "timm", "kornia", "numpy", "safetensors", "pillow",
             "torchmetrics", "torch-fidelity", "matplotlib")
"""Distributions whose versions are recorded (None when not installed)."""


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _accelerator() -> dict[str, Any]:
    """CUDA and cuDNN versions and the visible GPUs (names, memory), or ``available: false``."""
    import torch

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    out: dict[str, Any] = {"cuda_build": torch.version.cuda, "cudnn": cudnn, "available": False, "devices": []}
    if torch.cuda.is_available():
        out["available"] = True
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            out["devices"].append({"index": i, "name": props.name,
                                   "memory_gib": round(props.total_memory / 2**30, 2),
                                   "capability": f"{props.major}.{props.minor}"})
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out["mps"] = True
    return out


def _num_processes() -> int | None:
    """The processes of this run: Accelerate's state when it was set up, else the launcher's WORLD_SIZE."""
    if "accelerate" in sys.modules:
        from accelerate.state import PartialState, is_initialized

        if is_initialized():
            return int(PartialState().num_processes)
    world = os.environ.get("WORLD_SIZE", "")
    return int(world) if world.isdigit() else None


def _plugins(registry: Any | None) -> list[dict[str, Any]]:
    """The loaded plugins: those behind ``registry``'s components, else the process-wide ones."""
    if registry is not None:
        seen = {comp.plugin.name: comp.plugin for comp in registry}
        return [{"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin}
                for p in sorted(seen.values(), key=lambda p: p.name)]
    from ..plugin.loading import get_plugins

    plugins = get_plugins()
    out = [{"name": p.name, "distribution": p.distribution, "version": p.version, "builtin": p.builtin}
           for p in sorted(plugins.infos.values(), key=lambda p: p.name)]
    out += [{"name": e.plugin, "distribution": e.distribution, "error": e.error} for e in plugins.errors]
    return out


def environment(*, registry: Any | None = None, num_processes: int | None = None,
                speed_plan: str | None = None, speed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe this process's training environment as a JSON-friendly dict.

    Args:
        registry: the run's registry (its components name the plugins they came from); None lists
            the process-wide plugins, load errors included.
        num_processes: the number of training processes when the caller knows it; otherwise it is
            read from Accelerate's state or ``WORLD_SIZE`` (None when neither says).
        speed_plan: the speed plan the run chose (``train.speed`` and what it turned on), recorded beside the
            CPU features it depends on.
        speed: the calibration of the plan's layout levers (:meth:`translate.engine.calibrate.Calibration.to_json`),
            which a resumed run reuses.
    """
    return {
        "format": 1,
        "translate": __version__,
        "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                   "executable": sys.executable},
        "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
                     "description": platform.platform()},
        "cpu": cpu_info(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "accelerator": _accelerator(),
        "num_processes": num_processes if num_processes is not None else _num_processes(),
        "plugins": _plugins(registry),
        **({"speed_plan": speed_plan} if speed_plan is not None else {}),
        **({"speed": speed} if speed is not None else {}),
    }


def write_environment(run_dir: str | os.PathLike[str], *, registry: Any | None = None,
                      num_processes: int | None = None, speed_plan: str | None = None,
                      speed: dict[str, Any] | None = None) -> Path:
    """Write :func:`environment` to ``RUN/environment.json`` atomically and return its path."""
    path = RunFolder(run_dir).environment
    data = environment(registry=registry, num_processes=num_processes, speed_plan=speed_plan, speed=speed)
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    return path


__all__ = ["CPU_FEATURES", "ENVIRONMENT_FILE", "cpu_summary", "LIBRARIES", "environment", "write_environment"]

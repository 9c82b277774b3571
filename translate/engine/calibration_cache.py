"""The calibration cache: a speed-plan calibration kept per machine and configuration.

A calibration (:mod:`.calibrate`) depends on the machine (CPU model and features, thread count,
instruction-set caps, the torch and translate versions) and on the configuration (the networks as
built, the batch's shapes, the precision, the levers left free, the number of processes).
:func:`cache_key` collects all of it; the record (the levers chosen and the timings) is stored as
JSON under a digest of the key in :func:`cache_folder`, with the key itself
(:mod:`translate.utils.cache`), so a digest collision or a stale file can only cause a new measurement.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..utils.cache import cache_folder as user_cache
from ..utils.cache import keyed_file, read_keyed, write_keyed
from ..version import __version__
from .environment import cpu_summary
from .speed import SpeedPlan

FORMAT = 1

ISA_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS")
"""Environment variables that cap the instruction set the kernels use (part of the key)."""


def cache_folder() -> Path:
    """``$TRANSLATE_SPEED_CACHE`` when set, else ``~/.cache/translate/speed`` (``$XDG_CACHE_HOME`` honoured)."""
    if os.environ.get("TRANSLATE_SPEED_CACHE"):
        return Path(os.environ["TRANSLATE_SPEED_CACHE"])
    return user_cache("speed")


def cache_key(base: SpeedPlan, levers: Sequence[str], built: Any, batch: Any, num_processes: int) -> dict[str, Any]:
    """What a calibration of ``levers`` on ``base`` depends on, for the method ``built`` (a
    ``BuiltMethod``: its networks' build records and the method's class) stepping on ``batch``."""
    method = built.method
    return {
        "format": FORMAT, "translate": __version__, "torch": torch.__version__, "machine": cpu_summary(),
        "threads": torch.get_num_threads(), "num_processes": num_processes,
        "isa": {name: os.environ[name] for name in ISA_VARIABLES if name in os.environ},
        "precision": base.precision, "compile": base.compile, "levers": list(levers),
        "method": f"{type(method).__module__}.{type(method).__qualname__}",
        "networks": {name: _jsonable(dataclasses.asdict(rec) if dataclasses.is_dataclass(rec) else str(rec))
                     for name, rec in sorted(built.records.items())},
        "batch": _shapes(batch),
    }


def cache_file(key: Mapping[str, Any]) -> Path:
    """The file that holds the record of ``key``."""
    return keyed_file(cache_folder(), key)


def read(key: Mapping[str, Any]) -> tuple[dict[str, Any], Path] | None:
    """The record kept for ``key`` (``levers``: name -> bool for each lever of the key, ``seconds``:
    candidate -> median seconds) and its file; None when absent, unreadable or kept for another key."""
    found = read_keyed(cache_folder(), key)
    if found is None:
        return None
    data, path = found
    try:
        levers = {name: data["levers"][name] for name in key["levers"]}
        seconds = {str(k): float(v) for k, v in data.get("seconds", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    if not all(isinstance(v, bool) for v in levers.values()):
        return None
    return {"levers": levers, "seconds": seconds}, path


def write(key: Mapping[str, Any], record: Mapping[str, Any]) -> Path | None:
    """Keep ``record`` for ``key``; None when the folder cannot be written (the next run measures again)."""
    return write_keyed(cache_folder(), key, record)


def _shapes(batch: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        return {"shape": list(batch.shape), "dtype": str(batch.dtype).removeprefix("torch.")}
    if isinstance(batch, Mapping):
        return {str(k): _shapes(v) for k, v in sorted(batch.items(), key=lambda kv: str(kv[0]))}
    if isinstance(batch, (list, tuple)):
        return [_shapes(v) for v in batch]
    return type(batch).__name__


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


__all__ = ["FORMAT", "ISA_VARIABLES", "cache_file", "cache_folder", "cache_key", "read", "write"]

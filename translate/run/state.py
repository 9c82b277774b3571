"""Nested state (optimizer state dicts, pools, RNG) <-> safetensors tensors + JSON skeleton.

No pickle: tensors go to a safetensors file, everything else must be JSON values.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..utils.atomic import write_text_atomic

_TENSOR = "__tensor__"
_TUPLE = "__tuple__"


def flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "t") -> Any:
    """Replace every tensor in ``obj`` by a reference and collect it in ``tensors``."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}.{len(tensors)}"
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"state keys must be str or int, got {type(k).__name__}")
            # JSON keys are strings: mark int keys so they come back as ints.
            out[f"i:{k}" if isinstance(k, int) else f"s:{k}"] = flatten(v, tensors, prefix)
        return out
    if isinstance(obj, tuple):
        return {_TUPLE: [flatten(v, tensors, prefix) for v in obj]}
    if isinstance(obj, list):
        return [flatten(v, tensors, prefix) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint (tensors and JSON values only)")


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(obj, dict):
        if _TENSOR in obj and len(obj) == 1:
            return tensors[obj[_TENSOR]]
        if _TUPLE in obj and len(obj) == 1:
            return tuple(unflatten(v, tensors) for v in obj[_TUPLE])
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            tag, name = k[:2], k[2:]
            out[int(name) if tag == "i:" else name] = unflatten(v, tensors)
        return out
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def save_state(obj: Any, path: Path) -> None:
    """Write ``obj`` as ``path.safetensors`` + ``path.json``."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = flatten(obj, tensors)
    save_file(tensors, str(path.with_suffix(".safetensors")))
    write_text_atomic(path.with_suffix(".json"), json.dumps(skeleton))


def load_state(path: Path) -> Any:
    """Read what :func:`save_state` wrote."""
    tensors = load_file(str(path.with_suffix(".safetensors")))
    skeleton = json.loads(path.with_suffix(".json").read_text())
    return unflatten(skeleton, tensors)

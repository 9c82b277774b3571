"""Reading an authors' checkpoint (``*_net_G.pth``) safely: a flat dictionary of tensors, nothing else.

The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``: PyTorch's
restricted unpickler, which builds tensors and plain containers and refuses every other global,
so no code named in the file runs. Both of ``torch.save``'s formats are read (the zip archive of
PyTorch >= 1.6 and the older plain pickle the published 2017-2019 models use); a safetensors file
holding a bare state dict is read with safetensors. What comes out must be a flat ``str -> Tensor``
dictionary; a common wrapper (``{"state_dict": {...}, "epoch": ...}``) is unwrapped first. Then,
as the authors' own loader does before ``load_state_dict``:

- the ``running_mean``/``running_var``/``num_batches_tracked`` buffers that PyTorch < 0.4 saved
  for InstanceNorm layers are dropped (recognised as statistics of a layer without affine
  parameters: the authors' BatchNorm layers always have a weight and a bias);
- a ``module.`` prefix on every key (``nn.DataParallel``) is removed.

Every problem raises :class:`~translate.errors.ModelFileError` naming the file and what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import ModelFileError
from ..foreign import is_pickle
from ..header import check_regular

if TYPE_CHECKING:  # pragma: no cover
    import torch

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "netG", "generator")
"""Keys under which training scripts other than the authors' nest the state dict."""
_STATS = ("running_mean", "running_var", "num_batches_tracked")
_GLOBAL = re.compile(r"GLOBAL (\S+) was not an allowed global")


@dataclass
class Checkpoint:
    """A checkpoint read back: its tensors (cleaned, see the module docstring) and what was changed."""

    path: Path
    tensors: dict[str, "torch.Tensor"]
    sha256: str
    dropped: list[str] = field(default_factory=list)  # InstanceNorm statistics of PyTorch < 0.4
    notes: list[str] = field(default_factory=list)  # what was unwrapped or renamed


def file_kind(path: Path) -> str:
    """``"zip"``, ``"pickle"``, ``"safetensors"`` or ``"unknown"``, from the first bytes (nothing is parsed)."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100 * 1024 * 1024:
        return "safetensors"  # checked first: a header length such as 0x280 starts with the pickle bytes
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if is_pickle(head):
        return "pickle"
    return "unknown"


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read ``path`` as an authors' generator checkpoint: a flat tensor dictionary on the CPU.

    Raises:
        ModelFileError: no such file; not a PyTorch checkpoint; truncated or damaged; holds
            objects other than tensors (refused by the restricted unpickler: nothing in it ran);
            or is not a flat dictionary of tensors.
    """
    from ..weights import file_sha256

    p = Path(path)
    size = check_regular(p)
    kind = file_kind(p)
    if kind == "unknown":
        with open(p, "rb") as fh:
            head = fh.read(8)
        raise ModelFileError(f"{p}: not a PyTorch checkpoint (a .pth file written by torch.save starts with a zip "
                             f"or pickle header; this one starts with {head!r}, {size} bytes)")
    raw = _read_safetensors(p) if kind == "safetensors" else _torch_load(p, kind)
    ckpt = Checkpoint(p, {}, file_sha256(p))
    state = _unwrap(p, raw, ckpt.notes)
    state = _strip_prefix(state, ckpt.notes)
    ckpt.tensors, ckpt.dropped = strip_instance_norm_statistics(state)
    if not ckpt.tensors:
        raise ModelFileError(f"{p}: the checkpoint holds no tensors")
    return ckpt


def _torch_load(path: Path, kind: str) -> Any:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - sorted below: the restricted unpickler's refusals, damage, the rest
        if type(err).__name__ != "UnpicklingError":  # pickle's error class, without importing pickle here
            return _damaged(path, kind, err)
        text = str(err)
        if "Weights only load failed" in text:
            found = _GLOBAL.search(text)
            what = f" ({found.group(1)})" if found else ""
            raise ModelFileError(
                f"{path}: the checkpoint holds an object other than tensors{what}; translate reads checkpoints "
                "with PyTorch's restricted unpickler (weights_only=True), which refused it: nothing in the file "
                "was run. Save only the network's state_dict (torch.save(net.state_dict(), FILE))"
            ) from None
        raise ModelFileError(f"{path}: not a readable PyTorch checkpoint (truncated or damaged?): {_first(err)}") \
            from None


def _damaged(path: Path, kind: str, err: Exception) -> Any:
    """Raise the error of a checkpoint ``torch.load`` could not read; anything unexpected propagates."""
    if not isinstance(err, (EOFError, RuntimeError, ValueError, OSError, KeyError, IndexError, TypeError)):
        raise err
    fmt = "zip archive" if kind == "zip" else "pickle"
    raise ModelFileError(
        f"{path}: truncated or damaged PyTorch checkpoint ({fmt}): {type(err).__name__}: {_first(err)}; "
        "download or copy it again"
    ) from None


def _read_safetensors(path: Path) -> dict[str, Any]:
    from ..header import read_header, read_tensors

    header = read_header(path)
    meta = header.get("__metadata__")
    if isinstance(meta, dict) and ("translate" in meta or "translate.format_version" in meta):
        raise ModelFileError(f"{path}: already a translate model file; use it directly (translate infer {path} ...)")
    return read_tensors(path)


def _first(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= 300 else line[:300] + "..."


def _is_tensor_dict(value: Any) -> bool:
    import torch

    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _unwrap(path: Path, raw: Any, notes: list[str]) -> dict[str, "torch.Tensor"]:
    import torch

    if not isinstance(raw, dict):
        raise ModelFileError(f"{path}: the checkpoint holds a {type(raw).__name__}, not a state dict "
                             "(a dictionary of tensor names to tensors)")
    if _is_tensor_dict(raw):
        return dict(raw)
    for key in WRAPPER_KEYS:
        if _is_tensor_dict(raw.get(key)):
            notes.append(f"read the state dict under the top-level key {key!r}")
            return dict(raw[key])
    bad = [f"{k!r} ({type(v).__name__})" for k, v in raw.items() if not isinstance(v, torch.Tensor)]
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    raise ModelFileError(f"{path}: not a flat state dict: entries that are not tensors: {shown}; expected a "
                         f"dictionary of tensors (or one under {', '.join(repr(k) for k in WRAPPER_KEYS)})")


def _strip_prefix(state: dict[str, "torch.Tensor"], notes: list[str]) -> dict[str, "torch.Tensor"]:
    prefix = "module."
    if state and all(k.startswith(prefix) for k in state):
        notes.append("removed the 'module.' prefix of nn.DataParallel from every key")
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def strip_instance_norm_statistics(state: dict[str, "torch.Tensor"]) -> tuple[dict[str, "torch.Tensor"], list[str]]:
    """``state`` without the running statistics of layers that have no affine parameters, and the keys dropped.

    PyTorch < 0.4 saved ``running_mean``/``running_var`` for every InstanceNorm layer (and 0.4
    ``num_batches_tracked``); the authors' InstanceNorm layers are not affine and track no
    statistics, so their loader drops these keys. A layer with a ``weight`` (BatchNorm) keeps them.
    """
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in state.items():
        module, _, tensor = key.rpartition(".")
        if tensor in _STATS and f"{module}.weight" not in state and f"{module}.bias" not in state:
            dropped.append(key)
        else:
            kept[key] = value
    return kept, dropped


__all__ = ["Checkpoint", "WRAPPER_KEYS", "file_kind", "read_checkpoint", "strip_instance_norm_statistics"]

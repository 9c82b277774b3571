"""Tensor names of the authors' pix2pix networks (pytorch-CycleGAN-and-pix2pix) and translate's.

The two layouts hold the same tensors for the same options (``bias = "authors"``); only the
names differ:

- U-Net: the authors nest one block per level (``model.model.1.model.3.model. ...``). Level 0
  (outermost) holds the first down-conv (``.0``) and the last transposed conv (``.3``); an
  intermediate level ``d`` holds down-conv ``.1``, its norm ``.2``, transposed conv ``.5`` and its
  norm ``.6``; the innermost level holds down-conv ``.1``, transposed conv ``.3`` and its norm
  ``.4``. translate names the encoder ``down.<d>`` (``down.0`` the conv itself, then ``.1`` conv
  and ``.2`` norm) and the decoder ``up.<k>`` from the bottleneck outwards (``.1`` transposed
  conv, ``.2`` norm), so level ``d`` decodes in ``up.<num_downs - 1 - d>``.
- PatchGAN (``model.<i>``) and PixelGAN (``net.<i>``): the authors keep a parameter-free
  placeholder where ``norm = "none"`` puts no layer, translate leaves it out, so the indices
  differ only without a norm.

Converting an authors' state dict drops the ``running_mean``/``running_var``/
``num_batches_tracked`` entries that pre-0.4 PyTorch saved for InstanceNorm layers (as the
authors' loader does) and adds ``num_batches_tracked`` where a BatchNorm lacks it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from translate.api import ModelFileError

_STATS = ("running_mean", "running_var", "num_batches_tracked")
_UNET_KEY = re.compile(r"^model\.model((?:\.[13]\.model)*)\.(\d+)\.([A-Za-z_]+)$")
_FLAT_KEY = re.compile(r"^(model|net)\.(\d+)\.([A-Za-z_]+)$")


def unfit(what: str, message: str) -> ModelFileError:
    """The error for a state dict that is not the authors' ``what`` (a ModelFileError)."""
    return ModelFileError(f"not an authors' {what} state dict: {message}")


def has_bias(norm: str, bias: str, *, feeds_batchnorm: bool) -> bool:
    """Whether a conv that may feed a norm layer carries a bias.

    "authors": exactly with instance norm (the authors' code tests the norm type, so with
    "none" its convs have no bias either); "v0.1": unless a BatchNorm follows (translate 0.1.0).
    """
    if bias == "authors":
        return norm == "instance"
    if bias == "v0.1":
        return not feeds_batchnorm
    raise ValueError(f"unknown bias {bias!r}; expected 'authors' or 'v0.1'")


# --- U-Net ----------------------------------------------------------------------------------------

def unet_level_prefix(level: int) -> str:
    """The authors' module path of U-Net level ``level`` (0: outermost)."""
    return "model.model" + "".join(".1.model" if d == 1 else ".3.model" for d in range(1, level + 1))


def unet_key_to_authors(key: str, num_downs: int) -> str:
    """translate's U-Net tensor name -> the authors' (``down.0.weight`` -> ``model.model.0.weight``)."""
    parts = key.split(".")
    n = num_downs
    if parts[0] == "down" and len(parts) == 3 and parts[1] == "0":
        return f"{unet_level_prefix(0)}.0.{parts[2]}"
    if parts[0] == "down" and len(parts) == 4 and parts[2] in ("1", "2"):
        d = int(parts[1])
        if 0 < d < n and not (d == n - 1 and parts[2] == "2"):
            return f"{unet_level_prefix(d)}.{parts[2]}.{parts[3]}"
    if parts[0] == "up" and len(parts) == 4 and parts[2] in ("1", "2"):
        k, role = int(parts[1]), parts[2]
        d = n - 1 - k
        if k == 0:
            return f"{unet_level_prefix(d)}.{3 if role == '1' else 4}.{parts[3]}"
        if d == 0 and role == "1":
            return f"{unet_level_prefix(0)}.3.{parts[3]}"
        if 0 < d < n - 1:
            return f"{unet_level_prefix(d)}.{5 if role == '1' else 6}.{parts[3]}"
    raise ValueError(f"{key!r} is not a tensor of a translate U-Net with {num_downs} downsamplings")


def _unet_parse(key: str) -> tuple[int, int, str]:
    m = _UNET_KEY.match(key)
    if m is None:
        raise unfit("U-Net", f"unexpected key {key!r} (expected model.model[.1.model[.3.model ...]].<i>.<tensor>)")
    levels = m.group(1).split(".model")[:-1] if m.group(1) else []
    if levels and (levels[0] != ".1" or any(s != ".3" for s in levels[1:])):
        raise unfit("U-Net", f"unexpected nesting in {key!r}")
    return len(levels), int(m.group(2)), m.group(3)


def unet_depth(state: Mapping[str, Any]) -> int:
    """``num_downs`` of an authors' U-Net state dict (deepest level + 1)."""
    if not state:
        raise unfit("U-Net", "it is empty")
    return max(_unet_parse(k)[0] for k in state) + 1


def unet_key_from_authors(key: str, num_downs: int) -> str:
    """The authors' U-Net tensor name -> translate's; the inverse of :func:`unet_key_to_authors`."""
    level, index, tensor = _unet_parse(key)
    n = num_downs
    table: dict[tuple[str, int], str] = {}
    if level == 0:
        table = {("outer", 0): "down.0", ("outer", 3): f"up.{n - 1}.1"}
        place = "outer"
    elif level == n - 1:
        table = {("inner", 1): f"down.{level}.1", ("inner", 3): "up.0.1", ("inner", 4): "up.0.2"}
        place = "inner"
    else:
        k = n - 1 - level
        table = {("mid", 1): f"down.{level}.1", ("mid", 2): f"down.{level}.2",
                 ("mid", 5): f"up.{k}.1", ("mid", 6): f"up.{k}.2"}
        place = "mid"
    name = table.get((place, index))
    if name is None:
        raise unfit("U-Net", f"no tensor of a U-Net level is at {key!r}")
    return f"{name}.{tensor}"


def unet_from_authors(state: Mapping[str, Any]) -> dict[str, Any]:
    """An authors' U-Net state dict under translate's names (InstanceNorm statistics dropped)."""
    n = unet_depth(state)
    return _with_norm_fixes({unet_key_from_authors(k, n): v for k, v in state.items()}, norm_modules={
        f"down.{d}.2" for d in range(1, n - 1)} | {f"up.{k}.2" for k in range(n - 1)})


def unet_to_authors(state: Mapping[str, Any], num_downs: int) -> dict[str, Any]:
    """A translate U-Net state dict under the authors' names."""
    return {unet_key_to_authors(k, num_downs): v for k, v in state.items()}


def _norm_of(state: Mapping[str, Any], norm_modules: set[str]) -> str:
    """'batch' (affine norm tensors), 'instance' (biases on the down-convs) or 'none'."""
    if any(f"{m}.weight" in state for m in norm_modules):
        return "batch"
    if any(k.endswith(".bias") for k in state if k.startswith("down.") and not k.startswith("down.0.")):
        return "instance"  # the authors give convs a bias exactly with InstanceNorm
    return "none"


def _with_norm_fixes(state: dict[str, Any], norm_modules: set[str]) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {}
    for key, value in state.items():
        module, _, tensor = key.rpartition(".")
        if tensor in _STATS and f"{module}.weight" not in state:
            continue  # InstanceNorm statistics that pre-0.4 PyTorch saved; the network has none
        out[key] = value
    for module in norm_modules:
        if f"{module}.running_mean" in out and f"{module}.num_batches_tracked" not in out:
            out[f"{module}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


def unet_options(state: Mapping[str, Any], *, fixed_depth: int | None) -> dict[str, Any]:
    """translate U-Net options that rebuild the authors' network ``state`` (translate names).

    ``fixed_depth`` is the depth of a named variant (``unet_256``: 8), None for ``unet``.
    """
    if "down.0.weight" not in state or "up.0.1.weight" not in state:
        raise unfit("U-Net", "it has no first down-convolution or innermost transposed convolution")
    n = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("down."))
    ngf = int(state["down.0.weight"].shape[0])
    for d in range(1, n):
        w = state.get(f"down.{d}.1.weight")
        want = ngf * min(2**d, 8)
        if w is None or int(w.shape[0]) != want:
            got = None if w is None else tuple(w.shape)
            raise unfit("U-Net", f"level {d} down-convolution is {got}, expected {want} filters for ngf {ngf}")
    outer = state.get(f"up.{n - 1}.1.weight")
    if outer is None or int(outer.shape[0]) != 2 * ngf:
        raise unfit("U-Net", f"its last transposed convolution {None if outer is None else tuple(outer.shape)} "
                             f"does not take the skip connection (expected {2 * ngf} input channels)")
    if fixed_depth is not None and n != fixed_depth:
        raise unfit("U-Net", f"it has {n} downsamplings, this generator has {fixed_depth}")
    if n < 5:
        raise unfit("U-Net", f"it has {n} downsamplings; the authors' U-Net has at least 5")
    norm = _norm_of(state, {f"down.{d}.2" for d in range(1, n - 1)} | {f"up.{k}.2" for k in range(n - 1)})
    options: dict[str, Any] = {"ngf": ngf, "norm": norm, "dropout": 0.5, "dropout_layers": "authors",
                               "bias": "authors"}
    if fixed_depth is None:
        options.update(num_downs=n, skip_connections=True)
    return options


def unet_channels(state: Mapping[str, Any]) -> dict[str, int]:
    """``in_channels``/``out_channels`` of an authors' U-Net state dict (translate names)."""
    n = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("down."))
    return {"in_channels": int(state["down.0.weight"].shape[1]),
            "out_channels": int(state[f"up.{n - 1}.1.weight"].shape[1])}


# --- PatchGAN and PixelGAN ------------------------------------------------------------------------

def patchgan_roles(n_layers: int, norm: str) -> tuple[list[str], list[str]]:
    """Layer roles in order, (translate's, the authors'): convs ``conv<i>``, norms ``norm<i>``, ``act``."""
    authors = ["conv0", "act"]
    for i in range(1, n_layers + 1):
        authors += [f"conv{i}", f"norm{i}", "act"]
    authors.append("out")
    ours = [r for r in authors if norm != "none" or not r.startswith("norm")]
    return ours, authors


def pixelgan_roles(norm: str) -> tuple[list[str], list[str]]:
    """Layer roles of the PixelGAN, (translate's, the authors')."""
    authors = ["conv0", "act", "conv1", "norm1", "act", "out"]
    return [r for r in authors if norm != "none" or r != "norm1"], authors


def _remap(state: Mapping[str, Any], src: list[str], dst: list[str], src_prefix: str, dst_prefix: str,
           what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in state.items():
        m = _FLAT_KEY.match(key)
        if m is None or m.group(1) != src_prefix or int(m.group(2)) >= len(src):
            raise unfit(what, f"unexpected key {key!r}")
        role = src[int(m.group(2))]
        out[f"{dst_prefix}.{dst.index(role)}.{m.group(3)}"] = value
    return out


def _flat_layout(state: Mapping[str, Any], prefix: str, what: str) -> tuple[int, str]:
    """(largest layer index, norm) of an authors' PatchGAN/PixelGAN state dict."""
    indices = set()
    for key in state:
        m = _FLAT_KEY.match(key)
        if m is None or m.group(1) != prefix:
            raise unfit(what, f"unexpected key {key!r} (expected {prefix}.<i>.<tensor>)")
        indices.add(int(m.group(2)))
    if not indices:
        raise unfit(what, "it is empty")
    last = max(indices)
    if f"{prefix}.3.weight" in state:
        norm = "batch"
    elif f"{prefix}.2.bias" in state:  # the authors give convs a bias exactly with InstanceNorm
        norm = "instance"
    else:
        norm = "none"
    return last, norm


def patchgan_layout(state: Mapping[str, Any]) -> tuple[int, str]:
    """(n_layers, norm) of an authors' PatchGAN state dict (``model.<i>`` names)."""
    last, norm = _flat_layout(state, "model", "PatchGAN")
    if (last - 2) % 3 or last < 5:
        raise unfit("PatchGAN", f"its last convolution is model.{last}, not at 2 + 3 * n_layers")
    n_layers = (last - 2) // 3
    first = state.get("model.0.weight")
    if first is None or tuple(first.shape[2:]) != (4, 4):
        raise unfit("PatchGAN", "model.0 is not a 4x4 convolution")
    ndf = int(first.shape[0])
    for i, index in enumerate([2 + 3 * (i - 1) for i in range(1, n_layers + 1)] + [last], start=1):
        w = state.get(f"model.{index}.weight")
        want = 1 if i > n_layers else ndf * min(2**i, 8)
        if w is None or tuple(w.shape[2:]) != (4, 4) or int(w.shape[0]) != want:
            got = None if w is None else tuple(w.shape)
            raise unfit("PatchGAN", f"model.{index} is {got}, expected a 4x4 convolution to {want} channels")
    return n_layers, norm


def patchgan_from_authors(state: Mapping[str, Any]) -> dict[str, Any]:
    """An authors' PatchGAN state dict under translate's names."""
    n_layers, norm = patchgan_layout(state)
    ours, authors = patchgan_roles(n_layers, norm)
    out = _remap(state, authors, ours, "model", "model", "PatchGAN")
    return _with_norm_fixes(out, {f"model.{ours.index(f'norm{i}')}" for i in range(1, n_layers + 1)
                                  if f"norm{i}" in ours})


def patchgan_to_authors(state: Mapping[str, Any], n_layers: int, norm: str) -> dict[str, Any]:
    """A translate PatchGAN state dict under the authors' names."""
    ours, authors = patchgan_roles(n_layers, norm)
    return _remap(state, ours, authors, "model", "model", "PatchGAN")


def pixelgan_from_authors(state: Mapping[str, Any]) -> dict[str, Any]:
    """An authors' PixelGAN state dict (``net.<i>`` names) under translate's names."""
    last, norm = _flat_layout(state, "net", "PixelGAN")
    if last != 5 or any(tuple(getattr(state.get(f"net.{i}.weight"), "shape", (0, 0, 0, 0)))[2:] != (1, 1)
                        for i in (0, 2, 5)):
        raise unfit("PixelGAN", "expected 1x1 convolutions net.0, net.2 and net.5")
    ours, authors = pixelgan_roles(norm)
    out = _remap(state, authors, ours, "net", "model", "PixelGAN")
    return _with_norm_fixes(out, {"model.3"} if norm != "none" else set())


def pixelgan_to_authors(state: Mapping[str, Any], norm: str) -> dict[str, Any]:
    """A translate PixelGAN state dict under the authors' names."""
    ours, authors = pixelgan_roles(norm)
    return _remap(state, ours, authors, "model", "net", "PixelGAN")


__all__ = [
    "has_bias",
    "unet_level_prefix", "unet_key_to_authors", "unet_key_from_authors", "unet_depth", "unet_from_authors",
    "unet_to_authors", "unet_options", "unet_channels", "patchgan_roles", "pixelgan_roles", "patchgan_layout",
    "patchgan_from_authors", "patchgan_to_authors", "pixelgan_from_authors", "pixelgan_to_authors",
]

"""Running one generator in its test-time mode, and reading a split in order.

- ``eval`` mode: dropout off, BatchNorm running statistics, images batched, under ``no_grad``;
- ``train`` mode (the pix2pix paper): dropout on and BatchNorm statistics of the image itself, so
  each image runs alone, with dropout seeded from ``seed`` and the image's name by the same rule as
  :class:`translate.inference.Translator`, so that outputs do not depend on batching or order.

:func:`translate.nn.test_mode.in_test_mode` restores the module's mode and buffers (BatchNorm statistics) afterwards. Images
whose sides are not multiples of the generator's ``size_multiple`` are padded (reflect) and the
outputs cropped back, as ``translate infer`` does; a generator with a ``scale_factor``
(:mod:`translate.nn.traits`) gives outputs that many times the input's size, cropped on that side.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

from ..nn.test_mode import dropout_seed

if TYPE_CHECKING:  # pragma: no cover
    import torch


def _as_list(items: list[Any]) -> list[Any]:
    return items


def batches(dataset: Any, count: int, batch_size: int, progress: bool) -> Iterator[list[dict[str, Any]]]:
    """The first ``count`` items as lists of ``batch_size``, in index order (key ``(i, i)``)."""
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, sampler=[(i, i) for i in range(count)],
                        collate_fn=_as_list, num_workers=0)
    if not progress:
        yield from loader
        return
    from tqdm.auto import tqdm

    with tqdm(total=count, desc="evaluating", unit="img") as bar:
        for items in loader:
            yield items
            bar.update(len(items))


def fingerprint(digest: Any, items: list[dict[str, Any]], keys: list[str]) -> None:
    """Add the items' names and their ``keys`` tensors (shape and bytes) to the sha256 ``digest``."""
    for item in items:
        digest.update(str(item.get("name", "")).encode("utf-8") + b"\0")
        for key in keys:
            tensor = item[key].detach().to("cpu", dtype=item[key].dtype).contiguous()
            digest.update(key.encode("utf-8") + b"\0" + str(tuple(tensor.shape)).encode("ascii"))
            digest.update(tensor.numpy().tobytes())


def same_size(items: list[dict[str, Any]], keys: list[str]) -> list[list[dict[str, Any]]]:
    """Consecutive runs of items whose images share their sizes (so they stack into one batch)."""
    groups: list[list[dict[str, Any]]] = []
    last = None
    for item in items:
        shape = tuple(tuple(item[k].shape) for k in keys)
        if shape != last:
            groups.append([])
            last = shape
        groups[-1].append(item)
    return groups


def generate(module: "torch.nn.Module", x: "torch.Tensor", names: list[str], *, mode: str,
             device: "torch.device", precision: str, seed: int) -> "torch.Tensor":
    """The module's outputs for the batch ``x`` (float32 in [-1, 1]): batched in ``eval`` mode, image by
    image with dropout seeded by :func:`dropout_seed` in ``train`` mode. The module must already be in
    that mode (:func:`in_test_mode`); the caller forks the random state."""
    import torch

    with torch.no_grad():
        if mode != "train":
            return forward(module, x, device, precision)
        outs = []
        for i, name in enumerate(names):
            torch.manual_seed(dropout_seed(seed, name))
            outs.append(forward(module, x[i : i + 1], device, precision))
        return torch.cat(outs)


def forward(module: "torch.nn.Module", x: "torch.Tensor", device: "torch.device", precision: str) -> "torch.Tensor":
    """``module(x)`` padded to the module's size multiple, cropped back (to ``scale_factor`` times the input's
    height and width), float32, clamped to [-1, 1]."""
    import torch
    import torch.nn.functional as F

    from ..nn.traits import scale_factor, size_multiple

    s = scale_factor(module)
    m = size_multiple(module)
    h, w = x.shape[-2:]
    ph, pw = -h % m, -w % m
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect" if ph < h and pw < w else "replicate")
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if precision == "bf16" \
        else contextlib.nullcontext()
    with autocast:
        y = module(x)
    return y[..., : h * s, : w * s].float().clamp(-1.0, 1.0)


def stack_images(images: list["torch.Tensor"], like: "torch.Tensor", device: "torch.device") -> "torch.Tensor":
    """The images as one float32 batch on ``device``; none: an empty ``(0, *like.shape)`` batch."""
    import torch

    if not images:
        return torch.empty((0, *like.shape), device=device)
    return torch.stack(images).to(device, torch.float32)

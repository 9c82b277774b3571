"""The inference fast path: a generator rebuilt for speed, within a stated tolerance of fp32.

:func:`fast_generator` returns a copy of a generator (the original is untouched) that

- folds every BatchNorm that follows a convolution into that convolution's weights and bias (eval
  mode only: in train mode, the paper's test mode, BatchNorm uses each batch's statistics and cannot
  be folded);
- stores its weights in bf16 once (where the device computes bf16 natively), instead of autocast's
  cast of every weight on every call, which at batch 1 is a large part of a U-Net's forward;
- keeps its output layer (the last convolution in module order, and what follows it) in fp32: the
  output's precision is then not limited by bf16's 8-bit significand (2^-8 of the value range);
- runs in channels_last memory format;
- on the CPU, computes its convolutions on small feature maps as one GEMM each
  (:mod:`translate.nn.gemm_conv`).

It takes and returns fp32 tensors like the original. docs/performance.md gives the figures and the
tolerance (``FAST_TOLERANCE``); tests/translate/inference/test_fast_inference.py checks both against the plain module.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from ..nn.gemm_conv import use_gemm_convolutions
from ..nn.traits import scale_factor, size_multiple

FAST_TOLERANCE = {"bf16": 0.05, "fp32": 1e-4}
"""Largest absolute difference from the fp32 module's output on the [-1, 1] scale that the fast path
may give, per weight precision (bf16: a few 8-bit output levels at the worst pixel; measured figures
in docs/performance.md)."""

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def fold_batchnorm(module: nn.Module) -> int:
    """Fold each eval-mode ``BatchNorm2d`` that directly follows a convolution in an ``nn.Sequential``
    into it (in place; the BatchNorm becomes ``nn.Identity``). Returns how many were folded.

    Only BatchNorm layers with running statistics are folded; ``module`` must be in eval mode.
    """
    if module.training:
        raise ValueError("fold_batchnorm needs an eval-mode module (train-mode BatchNorm uses batch statistics)")
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if (isinstance(conv, _CONVS) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
                    and bn.running_mean is not None and conv.groups == 1):
                seq._modules[a] = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.ConvTranspose2d))
                seq._modules[b] = nn.Identity()
                folded += 1
    return folded


class _Float32(nn.Module):
    """Runs the wrapped layer in fp32 on an fp32 copy of its input (outside any autocast)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return self.layer(x.float())


class FastGenerator(nn.Module):
    """A generator with bf16 (or fp32) weights that takes and returns fp32 tensors."""

    def __init__(self, net: nn.Module, dtype: torch.dtype, channels_last: bool) -> None:
        super().__init__()
        self.net, self.dtype, self.channels_last = net, dtype, channels_last
        self.size_multiple, self.scale_factor = size_multiple(net), scale_factor(net)  # the wrapped network's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x).float()


def _last_conv(module: nn.Module) -> tuple[nn.Module, str] | None:
    """The parent and attribute name of the last convolution in module order (the output layer)."""
    last = None
    for name, child in module.named_modules():  # pre-order: registration order, depth first
        if isinstance(child, _CONVS) and name:
            last = name
    if last is None:
        return None
    parent_name, _, attr = last.rpartition(".")
    return module.get_submodule(parent_name), attr


def fast_generator(module: nn.Module, device: torch.device | str, *, precision: str = "auto",
                   eval_mode: bool = True, channels_last: bool = True,
                   gemm_convs: bool | None = None) -> nn.Module:
    """A fast copy of ``module`` for inference on ``device`` (see the module docstring).

    ``precision``: "bf16", "fp32", or "auto" (bf16 where the device computes it natively). With
    ``eval_mode=False`` (test mode "train") BatchNorm is not folded and the copy stays in train mode.
    ``gemm_convs``: small convolutions as GEMMs; None: on the CPU.
    """
    from ..nn.precision import native_bf16

    device = torch.device(device)
    if precision == "auto":
        precision = "bf16" if native_bf16(device.type) else "fp32"
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"fast inference precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    net = copy.deepcopy(module).to(device)
    net.train(not eval_mode)
    if eval_mode:
        fold_batchnorm(net)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    net = net.to(dtype)
    for m in net.modules():  # normalisation statistics stay fp32 (bf16 inputs are accepted)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.float()
    if dtype != torch.float32:
        last = _last_conv(net)
        if last is not None:
            parent, name = last
            parent._modules[name] = _Float32(parent._modules[name])
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if device.type == "cpu" if gemm_convs is None else gemm_convs:
        use_gemm_convolutions(net)
    fast = FastGenerator(net, dtype, channels_last)
    return fast.train(not eval_mode)

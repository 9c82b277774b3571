"""The speed plan of a run: which measured levers (bf16 autocast, channels_last, GEMM convolutions on
small feature maps, torch.compile) are on.

``train.speed = "reference"`` is the plain computation: fp32, contiguous tensors, eager, the same
operations in the same order as the authors' code. ``"fast"`` (the default) turns on what
``benchmarks/bench_speed.py`` measured to help on the device at hand; each lever can also be set
alone (``train.mixed_precision``, ``train.channels_last``, ``train.gemm_convs``, ``train.compile``), and an explicit
value always wins over the preset. :func:`resolve_speed` gives the preset; on the CPU the layout
levers left unset are then timed on the run itself (:mod:`.calibrate`), unless ``train.calibrate``
is false. docs/performance.md has the figures behind each choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ..nn.gemm_conv import use_gemm_convolutions
from ..nn.precision import native_bf16

if TYPE_CHECKING:  # pragma: no cover
    from ..components.method import Method
    from ..recipe import TrainSpec


@dataclass(frozen=True)
class SpeedPlan:
    """What a run does for speed, resolved for one device type."""

    precision: str  # Accelerate's mixed_precision: "no", "bf16" or "fp16"
    channels_last: bool  # 4-D batch tensors, hence the activations, in NHWC memory format
    compile: str  # "off" or a torch.compile mode ("default", "max-autotune-no-cudagraphs", ...)
    gemm_convs: bool = False  # convolutions on small feature maps as one GEMM (translate/nn/gemm_conv.py)
    channels_last_params: bool = False  # the networks' parameters in NHWC too (with channels_last, on GPUs)

    def describe(self) -> str:
        """One line for the run log, e.g. ``bf16 autocast, channels_last activations, small convs as GEMM, eager``."""
        layout = "contiguous"
        if self.channels_last:
            layout = "channels_last" if self.channels_last_params else "channels_last activations"
        parts = ["fp32" if self.precision == "no" else f"{self.precision} autocast", layout]
        if self.gemm_convs:
            parts.append("small convs as GEMM")
        parts.append("eager" if self.compile == "off" else f"torch.compile({self.compile})")
        return ", ".join(parts)


def resolve_speed(train: "TrainSpec", device_type: str) -> SpeedPlan:
    """The plan for ``train`` on ``device_type`` ("cpu" or "cuda"): explicit keys first, then the preset."""
    fast = train.speed == "fast"
    precision = train.mixed_precision
    if precision == "auto":
        precision = "bf16" if fast and native_bf16(device_type) else "no"
    # channels_last: on for GPUs (cuDNN's NHWC kernels), parameters included. On the CPU with bf16: oneDNN's bf16
    # convolutions reorder contiguous activations to NHWC and back on every call, so NHWC activations measured
    # 1.33x faster for CycleGAN and level for pix2pix; the parameters stay contiguous there (oneDNN reorders
    # weights itself, and PyTorch's fused CPU Adam copies channels_last parameters to contiguous each step).
    # fp32 on the CPU was not measured with NHWC activations, so it stays contiguous.
    if train.channels_last is None:
        channels_last = fast and (device_type == "cuda" or (device_type == "cpu" and precision == "bf16"))
    else:
        channels_last = train.channels_last
    # small convolutions as GEMMs: measured on the CPU (the convolution library's per-call weight preparation
    # dominates layers with few output positions); not measured on a GPU yet, so off there
    gemm_convs = (fast and device_type == "cpu") if train.gemm_convs is None else train.gemm_convs
    compile_mode = train.compile if train.compile is not None else "off"
    return SpeedPlan(precision=precision, channels_last=channels_last, compile=compile_mode, gemm_convs=gemm_convs,
                     channels_last_params=channels_last and device_type != "cpu")


def device_type_for(cpu: bool) -> str:
    """The device type a run will use: CUDA when present and not refused with ``train.cpu``."""
    return "cuda" if torch.cuda.is_available() and not cpu else "cpu"


def before_prepare(method: "Method", plan: SpeedPlan) -> None:
    """Convert the networks to the plan's parameter memory format and convolution route (in place: the
    modules stay the same objects, with the same parameters)."""
    for net in method.networks.values():
        if plan.channels_last_params:
            net.to(memory_format=torch.channels_last)
        if plan.gemm_convs:
            use_gemm_convolutions(net)


def after_prepare(method: "Method", plan: SpeedPlan) -> None:
    """Compile the prepared networks in place (``nn.Module.compile``): parameter names, checkpoints and
    exported files stay those of the eager modules."""
    if plan.compile == "off":
        return
    for net in method.networks.values():
        net.compile(mode=None if plan.compile == "default" else plan.compile)


def format_batch(batch: Any, plan: SpeedPlan) -> Any:
    """The batch with its 4-D tensors in the plan's memory format (a no-op for the reference plan)."""
    if not plan.channels_last:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch.contiguous(memory_format=torch.channels_last) if batch.dim() == 4 else batch
    if isinstance(batch, dict):
        return {k: format_batch(v, plan) for k, v in batch.items()}
    return batch


def match_optimizer_layouts(method: "Method") -> int:
    """Give every optimizer state tensor its parameter's memory format; returns how many were changed.

    A checkpoint stores tensors contiguous, so after a resume the Adam moments of a channels_last
    parameter would be contiguous while the parameter and its gradient are not; the fused Adam kernel
    walks all of them in memory order, so the layouts must agree (resume equivalence depends on it).
    """
    changed = 0
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            for p in group["params"]:
                state = opt.state.get(p, {})
                for key, value in state.items():
                    if (isinstance(value, torch.Tensor) and value.shape == p.shape and value.dim() == 4
                            and value.stride() != p.stride()):
                        state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
                        changed += 1
    return changed

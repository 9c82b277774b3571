"""What the built-in metrics share: mapping images to [0, 1] or uint8, checking batches, naming options."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import torch

from translate.api import DataError, EvalBatch, Metric, MetricContext, TranslateError


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` -> ``[0, 1]`` (float32), clamped: a generator's tanh never leaves the range, others might."""
    return ((images.float() + 1) / 2).clamp(0, 1)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``[-1, 1]`` -> uint8 ``[0, 255]``, rounded, as the image would be saved to a PNG."""
    return (to_unit(images) * 255).round().to(torch.uint8)


def rgb(images: torch.Tensor, metric: str) -> torch.Tensor:
    """Three channels for networks trained on RGB: grey images are repeated; other counts are an error."""
    if images.shape[1] == 3:
        return images
    if images.shape[1] == 1:
        return images.expand(-1, 3, -1, -1)
    raise DataError(f"metric {metric}: its network was trained on RGB photos, so it needs RGB (3 channels) or grey "
                    f"(1 channel) images, but these have {images.shape[1]} channels (shape {tuple(images.shape)}); "
                    "on RGBA or N-channel data use the full-reference metrics l1, psnr, ssim and ms_ssim")


def check_rgb_context(ctx: MetricContext, metric: str) -> None:
    """Refuse, before any weights are loaded, images the evaluator says are neither RGB nor grey (``ctx.channels``)."""
    if ctx.channels is not None and ctx.channels not in (1, 3):
        raise DataError(f"metric {metric}: its network was trained on RGB photos, so it needs RGB (3 channels) or "
                        f"grey (1 channel) images, but this data's images have {ctx.channels} channels; on RGBA or "
                        "N-channel data use the full-reference metrics l1, psnr, ssim and ms_ssim")


def check_pair(batch: EvalBatch, metric: str) -> None:
    """A full-reference metric's batch: aligned, with fakes and reals of the same shape."""
    if not batch.aligned:
        raise DataError(f"metric {metric} compares each output with its own ground truth and needs paired data; "
                        "this data set is unpaired (use fid or kid)")
    if batch.fake.shape != batch.real.shape:
        raise DataError(f"metric {metric}: generated images {tuple(batch.fake.shape)} and real images "
                        f"{tuple(batch.real.shape)} differ in shape")
    if batch.fake.dim() != 4:
        raise DataError(f"metric {metric}: expected (N, C, H, W) images, got shape {tuple(batch.fake.shape)}")


def option_path(ctx: MetricContext, metric: str, key: str) -> str:
    """How the user names ``key`` of ``metric``: ``eval.options.fid.weights`` in a recipe, and the
    ``translate eval`` flag that sets the same option."""
    where = ctx.where or "metric"
    if where.endswith(f".{metric}") or where == metric:
        return f"{where}.{key} (translate eval: --set {metric}.{key}=...)"
    return f"option {key!r} of metric {metric} ({where})"


def full_precision(device: torch.device) -> Any:
    """A context in which networks run in float32 even inside the evaluator's bf16 autocast: the
    metric's protocol is the same whatever precision the generator ran in."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def library(name: str = "torchmetrics") -> str:
    """``"torchmetrics 1.9.0"``."""
    return f"{name} {version(name)}"


def value(tensor: torch.Tensor) -> float:
    """A 0-d result tensor as a Python float."""
    return float(tensor.detach().double().cpu().item())


class TorchmetricsMetric(Metric):
    """A translate metric around one torchmetrics metric (its state lives on ``ctx.device``)."""

    name = ""

    def __init__(self, inner: Any, ctx: MetricContext) -> None:
        self.inner = inner.to(ctx.device)
        self.device = ctx.device
        self.count = 0

    def add(self, *tensors: torch.Tensor) -> None:
        self.inner.update(*(t.to(self.device) for t in tensors))

    def compute(self) -> dict[str, float]:
        if self.count < self.min_images:
            raise TranslateError(f"metric {self.name}: needs at least {self.min_images} image(s), got {self.count}")
        return {self.name: value(self.inner.compute())}

    def reset(self) -> None:
        self.inner.reset()
        self.count = 0

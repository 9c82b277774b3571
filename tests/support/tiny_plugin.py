"""A tiny test-local generator plugin shared by the model-file and inference tests."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import translate


class TinyOptions(translate.Options):
    width: int = 4
    dropout: float = 0.0
    note: str | None = None


class TinyGenerator(nn.Module):
    """Conv stride 4 down, BatchNorm, Dropout, transposed conv up: needs H, W multiples of 4."""

    size_multiple = 4

    def __init__(self, options: TinyOptions, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.down = nn.Conv2d(in_channels, options.width, 4, stride=4)
        self.norm = nn.BatchNorm2d(options.width)
        self.drop = nn.Dropout(options.dropout)
        self.up = nn.ConvTranspose2d(options.width, out_channels, 4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2] % 4 == 0 and x.shape[-1] % 4 == 0, x.shape
        return torch.tanh(self.up(self.drop(torch.relu(self.norm(self.down(x))))))


class TinyPlugin:
    @translate.hookimpl
    def register_generators(self, register):
        register("tiny", TinyGenerator, options=TinyOptions, description="test generator")


class TinyMaeOptions(translate.Options):
    scale: float = 1.0


class TinyMae(translate.Metric):
    """Mean absolute error per image, averaged over images (a full-reference test metric)."""

    needs_aligned = True
    larger_is_better = False

    def __init__(self, options: TinyMaeOptions, ctx: translate.MetricContext) -> None:
        self.scale, self.device = options.scale, ctx.device
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, batch: translate.EvalBatch) -> None:
        assert batch.fake.device.type == self.device.type and batch.fake.dtype == torch.float32
        self.total += float((batch.fake - batch.real).abs().mean(dim=(1, 2, 3)).sum())
        self.count += batch.fake.shape[0]

    def compute(self) -> dict[str, float]:
        return {"tiny_mae": self.scale * self.total / self.count}

    def protocol(self) -> dict[str, object]:
        return {"scale": self.scale}


class TinyMeanOptions(translate.Options):
    feature: str | None = None


class TinyMean(translate.Metric):
    """Mean of the generated and of the real images (a distribution-style test metric, unpaired data
    allowed, at least 2 images); ``feature`` names a generator built through ``ctx.build`` and run first."""

    min_images = 2

    def __init__(self, options: TinyMeanOptions, ctx: translate.MetricContext) -> None:
        self.net = None
        if options.feature is not None:
            self.net = ctx.build("generator", options.feature, {"width": 2}, in_channels=3, out_channels=1)
        self.reset()

    def reset(self) -> None:
        self.fake, self.real, self.count, self.real_count = 0.0, 0.0, 0, 0

    def update(self, batch: translate.EvalBatch) -> None:
        fake = batch.fake if self.net is None or not len(batch.fake) else self.net.eval()(batch.fake)
        self.fake += float(fake.mean(dim=(1, 2, 3)).sum())
        self.real += float(batch.real.mean(dim=(1, 2, 3)).sum())
        self.count += batch.fake.shape[0]  # on unpaired data the two sides may differ in number
        self.real_count += batch.real.shape[0]

    def compute(self) -> dict[str, float]:
        return {"tiny_mean": self.fake / self.count, "tiny_mean_real": self.real / self.real_count}


class TinyGap(translate.Metric):
    """|mean generated - mean real| per channel, summed: a test metric that implements
    ``translate.ReferenceStatistics`` (its statistics: the per-channel mean of the real images)."""

    larger_is_better = False

    def __init__(self, options: translate.NoOptions, ctx: translate.MetricContext) -> None:
        self.reference: np.ndarray | None = None
        self.source: str | None = None
        self.reset()

    def reset(self) -> None:
        self.fake_sum, self.real_sum = np.zeros(3), np.zeros(3)
        self.fake_count = self.real_count = 0

    def update(self, batch: translate.EvalBatch) -> None:
        self.fake_sum += batch.fake.double().sum(dim=(0, 2, 3)).cpu().numpy() / (batch.fake[0, 0].numel())
        self.fake_count += batch.fake.shape[0]
        if self.reference is None:
            self.add_real(batch.real)

    def add_real(self, images: torch.Tensor) -> None:
        self.real_sum += images.double().sum(dim=(0, 2, 3)).cpu().numpy() / (images[0, 0].numel())
        self.real_count += images.shape[0]

    def statistics(self) -> dict[str, np.ndarray]:
        return {"mean": self.real_sum / self.real_count, "count": np.array(self.real_count), "mode": np.array("tiny")}

    def use_reference(self, arrays: dict[str, np.ndarray], source: str) -> None:
        if "mean" not in arrays or arrays["mean"].shape != (3,):
            raise translate.TranslateError(f"{source}: holds no 'mean' of 3 channels (arrays: {', '.join(arrays)})")
        self.reference, self.source = arrays["mean"], source

    def compute(self) -> dict[str, float]:
        real = self.reference if self.reference is not None else self.real_sum / self.real_count
        return {"tiny_gap": float(np.abs(self.fake_sum / self.fake_count - real).sum())}

    def protocol(self) -> dict[str, object]:
        return {"reference_source": self.source}


class TinyMetricsPlugin:
    @translate.hookimpl
    def register_metrics(self, register):
        register("tiny_gap", TinyGap, options=translate.NoOptions, description="test metric: mean gap, with "
                 "reference statistics")
        register("tiny_mae", TinyMae, options=TinyMaeOptions, description="test metric: mean absolute error")
        register("tiny_mean", TinyMean, options=TinyMeanOptions, description="test metric: mean image value")

"""A tiny test-local generator plugin shared by the model-file and inference tests."""

from __future__ import annotations

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
        self.fake, self.real, self.count = 0.0, 0.0, 0

    def update(self, batch: translate.EvalBatch) -> None:
        fake = batch.fake if self.net is None else self.net.eval()(batch.fake)
        self.fake += float(fake.mean(dim=(1, 2, 3)).sum())
        self.real += float(batch.real.mean(dim=(1, 2, 3)).sum())
        self.count += batch.fake.shape[0]

    def compute(self) -> dict[str, float]:
        return {"tiny_mean": self.fake / self.count, "tiny_mean_real": self.real / self.count}


class TinyMetricsPlugin:
    @translate.hookimpl
    def register_metrics(self, register):
        register("tiny_mae", TinyMae, options=TinyMaeOptions, description="test metric: mean absolute error")
        register("tiny_mean", TinyMean, options=TinyMeanOptions, description="test metric: mean image value")

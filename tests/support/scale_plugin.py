"""A test-local plugin for generators that change resolution (contract 1 of issue 12).

- generator ``sr2``: conv (``kernel`` x ``kernel``) -> ReLU -> conv to ``out * s * s`` channels ->
  PixelShuffle(s) -> tanh, so ``scale_factor = s`` (2 by default) and the receptive field is
  ``2 * kernel - 1`` input pixels (``kernel = 1``: a pointwise network); ``size_multiple`` is an
  option, checked in ``forward``;
- generator ``wrong_scale``: declares ``scale_factor = 2`` but keeps the size (what
  ``check_generator`` and ``translate infer`` must catch); ``bad_scale``: declares a float;
- data set ``tiny_sr``: paired low/high resolution images made on the fly from the item's index:
  a smooth random target of ``image_size`` pixels and its area-downsampled input of
  ``image_size // scale`` pixels, with ``DataInfo(image_size, scale=scale)``;
- method ``tiny_sr``: the generator trained with L1 against the target (no discriminator).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

import translate


class SrOptions(translate.Options):
    width: int = Field(4, ge=1, description="hidden channels")
    scale: int = Field(2, ge=1, le=8, description="upscaling factor (PixelShuffle)")
    kernel: int = Field(3, ge=1, description="odd kernel side of both convolutions")
    multiple: int = Field(1, ge=1, description="size_multiple the network declares and checks")


class SrGenerator(nn.Module):
    """``(N, in, H, W)`` -> ``(N, out, s * H, s * W)``."""

    def __init__(self, options: SrOptions, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        s, k = options.scale, options.kernel
        self.scale_factor = s
        self.size_multiple = options.multiple
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, options.width, k, padding=k // 2), nn.ReLU(),
            nn.Conv2d(options.width, out_channels * s * s, k, padding=k // 2), nn.PixelShuffle(s),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.size_multiple
        assert x.shape[-2] % m == 0 and x.shape[-1] % m == 0, x.shape
        return torch.tanh(self.body(x))


class WrongScale(nn.Module):
    """Declares ``scale_factor = 2`` but returns its input's size."""

    scale_factor = 2

    def __init__(self, options: translate.NoOptions, *, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


class BadScale(WrongScale):
    scale_factor = 2.0  # type: ignore[assignment]


class TinySrDataOptions(translate.Options):
    count: int = Field(8, ge=1, description="items per split")
    image_size: int = Field(32, ge=1, description="target side (a multiple of scale)")
    scale: int = Field(2, ge=1, description="target side over input side")
    channels: int = Field(3, ge=1, le=4, description="channels of both sides")


class TinySrDataset:
    """Smooth random targets (bilinear upsampling of 4x4 noise) and their area-downsampled inputs."""

    def __init__(self, options: TinySrDataOptions, split: str) -> None:
        self.options, self.split = options, split
        self.channels = {"input": options.channels, "target": options.channels}
        self.names = [f"{split}-{i:03d}" for i in range(options.count)]
        self.info = translate.DataInfo(image_size=options.image_size, scale=options.scale, folder="tiny_sr",
                                       translations=(("AtoB", "input", "target"),), aligned=True)

    def __len__(self) -> int:
        return self.options.count

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, _ = translate.resolve_key(key, len(self))
        o = self.options
        gen = torch.Generator().manual_seed(1000 * ("train", "val", "test").index(self.split) + index)
        side = o.image_size
        noise = torch.rand(1, o.channels, 4, 4, generator=gen) * 2 - 1
        target = F.interpolate(noise, size=(side, side), mode="bilinear", align_corners=False)[0]
        low = F.avg_pool2d(target[None], o.scale)[0] if o.scale > 1 else target.clone()
        return {"input": low.float(), "target": target.float(), "name": self.names[index]}


class TinySrMethodOptions(translate.Options):
    lr: float = Field(1e-2, gt=0, description="Adam learning rate")


class TinySrMethod(translate.Method):
    """L1 between the generator's output and the high-resolution target."""

    data_keys = ("input", "target")

    def __init__(self, options: TinySrMethodOptions, ctx: translate.BuildContext) -> None:
        super().__init__()
        g = ctx.generator(in_channels=ctx.channels["input"], out_channels=ctx.channels["target"])
        self.networks["G"] = g
        self.optimizers["G"] = torch.optim.Adam(g.parameters(), lr=options.lr)

    def train_step(self, batch: dict[str, Any], ctx: translate.StepContext) -> dict[str, torch.Tensor]:
        g, opt = self.networks["G"], self.optimizers["G"]
        opt.zero_grad(set_to_none=True)
        loss = (g(batch["input"]) - batch["target"]).abs().mean()
        ctx.backward(loss)
        opt.step()
        return {"l1": loss.detach()}

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        g = self.networks["G"].eval()
        return [[("input", batch["input"]), ("output", g(batch["input"])), ("target", batch["target"])]]

    def exports(self) -> list[translate.ExportSpec]:
        return [translate.ExportSpec("G", "G", input_domain="low", output_domain="high")]


class ScalePlugin:
    @translate.hookimpl
    def register_generators(self, register: Any) -> None:
        register("sr2", SrGenerator, options=SrOptions, description="test generator: conv + PixelShuffle")
        register("wrong_scale", WrongScale, options=translate.NoOptions, description="declares 2, keeps the size")
        register("bad_scale", BadScale, options=translate.NoOptions, description="declares a float scale")

    @translate.hookimpl
    def register_datasets(self, register: Any) -> None:
        register("tiny_sr", lambda options, *, split: TinySrDataset(options, split), options=TinySrDataOptions,
                 description="test data: low-resolution inputs, high-resolution targets", smoke_options={})

    @translate.hookimpl
    def register_methods(self, register: Any) -> None:
        register("tiny_sr", TinySrMethod, options=TinySrMethodOptions, description="test method: L1 super-resolution")

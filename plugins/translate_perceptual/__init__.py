"""Perceptual losses and a timm-backbone generator, on timm feature extractors (``features_only``).

- losses ``perceptual`` (feature reconstruction) and ``style`` (Gram matrices), Johnson et al. 2016,
  on a frozen VGG-16 by default or any timm model;
- generator ``timm_unet``: a U-Net decoder on any timm encoder.

Pretrained weights come from a local file, the usual folders or timm's Hugging Face download, never
silently random (``weights = "random"`` asks for an untrained network). Torch and timm are imported
only when a factory runs, so loading the plugin stays fast. ``docs/losses.md`` describes the options.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .options import PerceptualOptions, StyleOptions, TimmUNetOptions

_LOSSES, _UNET = f"{__name__}.losses", f"{__name__}.unet"
#: A tiny timm model (about 0.4M parameters) for the registry-wide smoke tests: no weights needed.
_SMOKE = {"model": "test_resnet", "layers": [1, 2], "weights": "random"}


@hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("perceptual", lazy_factory(_LOSSES, "build_perceptual"), options=PerceptualOptions,
             smoke_options=_SMOKE,
             description="feature reconstruction loss on a frozen timm network (VGG-16 relu2_2 by default; "
                         "needs its pretrained weights); Johnson et al. 2016")
    register("style", lazy_factory(_LOSSES, "build_style"), options=StyleOptions, smoke_options=_SMOKE,
             description="style loss: Gram-matrix distance on a frozen timm network (VGG-16 relu1_2..relu4_3 by "
                         "default; needs its pretrained weights); Johnson et al. 2016")


@hookimpl
def register_generators(register: Callable[..., None]) -> None:
    register("timm_unet", lazy_factory(_UNET, "build_timm_unet"), options=TimmUNetOptions,
             smoke_options={"backbone": "test_resnet", "weights": "random", "decoder_channels": [32, 16, 16, 8, 8]},
             description="U-Net decoder on a timm encoder (features_only; resnet34 by default, any timm name; "
                         "pretrained weights needed unless weights = 'random')")

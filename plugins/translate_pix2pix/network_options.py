"""Options models of the pix2pix networks (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from translate.api import Options

NormName = Literal["batch", "instance", "none"]
InitName = Literal["normal", "xavier", "kaiming"]


class InitOptions(Options):
    """Weight initialisation shared by the networks."""

    init: InitName = Field("normal", description="weight init: normal N(0, init_gain), xavier or kaiming")
    init_gain: float = Field(0.02, gt=0, description="std of the normal init (gain for xavier)")


class UNetOptions(InitOptions):
    """A U-Net of fixed depth (``unet_256``, ``unet_128``, ``encoder_decoder_*``)."""

    ngf: int = Field(64, ge=1, description="filters of the first encoder layer")
    norm: NormName = Field("batch", description="normalisation layer")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout in the innermost three decoder layers (0: none)")


class ConfigurableUNetOptions(UNetOptions):
    """A U-Net whose depth and skips a recipe chooses (``unet``)."""

    num_downs: int = Field(8, ge=5, le=12, description="downsamplings; H and W must be multiples of 2**num_downs")
    skip_connections: bool = Field(True, description="False: the paper's encoder-decoder ablation")


class PixelGANOptions(InitOptions):
    """The 1x1 PixelGAN discriminator."""

    ndf: int = Field(64, ge=1, description="filters of the first layer")
    norm: NormName = Field("batch", description="normalisation layer")


class PatchGANOptions(PixelGANOptions):
    """A PatchGAN of fixed depth (``patchgan_16``, ``patchgan_70``, ``patchgan_286``)."""


class ConfigurablePatchGANOptions(PatchGANOptions):
    """A PatchGAN whose depth a recipe chooses (``patchgan``)."""

    n_layers: int = Field(3, ge=1, le=8, description="stride-2 layers: 1 -> 16x16, 3 -> 70x70, 5 -> 286x286 field")

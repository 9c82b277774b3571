"""Options models of the pix2pix networks (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from translate.api import Options

NormName = Literal["batch", "instance", "none"]
InitName = Literal["normal", "xavier", "kaiming"]
BiasName = Literal["authors", "v0.1"]

_BIAS = (
    "which convolutions carry a bias: 'authors' exactly as the authors' pytorch-CycleGAN-and-pix2pix code "
    "(every conv with instance norm; with batch norm or none only {always}); 'v0.1' as translate 0.1.0 built "
    "them (a bias on every conv that no BatchNorm follows){note}"
)


class InitOptions(Options):
    """Weight initialisation shared by the networks."""

    init: InitName = Field("normal", description="weight init: normal N(0, init_gain), xavier or kaiming")
    init_gain: float = Field(0.02, gt=0, description="std of the normal init (gain for xavier)")


class UNetOptions(InitOptions):
    """A U-Net of fixed depth (``unet_256``, ``unet_128``, ``encoder_decoder_*``)."""

    #: Model files written before an option existed lack its key; they were built like this.
    recorded_defaults: ClassVar[dict[str, Any]] = {"bias": "v0.1", "dropout_layers": "paper"}

    ngf: int = Field(64, ge=1, description="filters of the first encoder layer")
    norm: NormName = Field("batch", description="normalisation layer")
    dropout: float = Field(0.5, ge=0, lt=1, description="dropout probability of the decoder layers that have "
                                                        "dropout (see dropout_layers; 0: none)")
    dropout_layers: Literal["paper", "authors"] = Field(
        "paper",
        description="which decoder layers have dropout: 'paper' the first three after the bottleneck (paper "
        "appendix, original Torch code), 'authors' decoder layers 2 to num_downs - 4 as in the authors' PyTorch "
        "code (2-4 for unet_256, 2-3 for unet_128; the innermost layer has none)",
    )
    bias: BiasName = Field("authors", description=_BIAS.format(
        always="the last transposed conv", note="; model files written before this option are rebuilt with 'v0.1'"))


class ConfigurableUNetOptions(UNetOptions):
    """A U-Net whose depth and skips a recipe chooses (``unet``)."""

    num_downs: int = Field(8, ge=5, le=12, description="downsamplings; H and W must be multiples of 2**num_downs")
    skip_connections: bool = Field(True, description="False: the paper's encoder-decoder ablation")


class PixelGANOptions(InitOptions):
    """The 1x1 PixelGAN discriminator."""

    ndf: int = Field(64, ge=1, description="filters of the first layer")
    norm: NormName = Field("batch", description="normalisation layer")
    bias: BiasName = Field("authors", description=_BIAS.format(always="the first conv", note=""))


class PatchGANOptions(PixelGANOptions):
    """A PatchGAN of fixed depth (``patchgan_16``, ``patchgan_70``, ``patchgan_286``)."""

    bias: BiasName = Field("authors", description=_BIAS.format(always="the first and the last conv", note=""))


class ConfigurablePatchGANOptions(PatchGANOptions):
    """A PatchGAN whose depth a recipe chooses (``patchgan``)."""

    n_layers: int = Field(3, ge=1, le=8, description="stride-2 layers: 1 -> 16x16, 3 -> 70x70, 5 -> 286x286 field")

"""Options models of the CycleGAN networks (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from translate.api import Options

NormName = Literal["instance", "batch", "none"]
PaddingName = Literal["reflect", "replicate", "zero"]
InitName = Literal["normal", "xavier", "kaiming"]


class ResnetOptions(Options):
    """A ResNet generator of fixed depth (``resnet_9blocks``, ``resnet_6blocks``).

    Johnson et al. / CycleGAN: c7s1-ngf, two stride-2 downsamplings, residual blocks,
    two stride-1/2 upsamplings, c7s1-out, Tanh.
    """

    ngf: int = Field(64, ge=1, description="filters of the first layer (residual blocks use ngf * 2**n_downsampling)")
    norm: NormName = Field("instance", description="normalisation layer (CycleGAN: instance, no affine parameters)")
    dropout: float = Field(
        0.0, ge=0, lt=1,
        description="dropout between the two convs of each residual block (0: none; the reference's "
                    "use_dropout is 0.5, off for CycleGAN)",
    )
    padding: PaddingName = Field(
        "reflect",
        description="padding of the residual blocks' 3x3 convs (the 7x7 first and last convs always reflect)",
    )
    init: InitName = Field("normal", description="weight init: normal N(0, init_gain), xavier or kaiming")
    init_gain: float = Field(0.02, gt=0, description="std of the normal init (gain for xavier)")


class ConfigurableResnetOptions(ResnetOptions):
    """A ResNet generator whose depth a recipe chooses (``resnet``)."""

    n_blocks: int = Field(9, ge=1, description="residual blocks (CycleGAN: 9 for 256x256, 6 for 128x128)")
    n_downsampling: int = Field(
        2, ge=1, le=6, description="stride-2 downsamplings; H and W must be multiples of 2**n_downsampling"
    )

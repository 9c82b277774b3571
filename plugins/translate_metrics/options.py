"""Options models of the built-in metrics (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator

from translate.api import Options

WEIGHTS_HELP = ("weights file: a path, hf://owner/repo/path/in/repo[@revision] (Hub cache), or unset to look for "
                "its usual name ({name}) in $TRANSLATE_WEIGHTS_DIR, ~/.cache/translate/weights and torch's hub "
                "cache (docs/metrics.md)")


class L1Options(Options):
    """Mean absolute error on images mapped to [0, 1]."""


class PSNROptions(Options):
    """Peak signal-to-noise ratio with data range 1 on images mapped to [0, 1]."""

    average: Literal["image", "set"] = Field(
        "image", description="'image': the mean of per-image PSNRs (as image-translation papers report); "
                             "'set': one PSNR from the mean squared error over every pixel of the split")


class _WindowOptions(Options):
    validation_rules = ("kernel_size is odd",)

    kernel_size: int = Field(11, ge=3, le=31, description="side of the Gaussian window in pixels (odd)")
    sigma: float = Field(1.5, gt=0, le=10, description="standard deviation of the Gaussian window in pixels")

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (the window has a centre pixel)")
        return value


class SSIMOptions(_WindowOptions):
    """Structural similarity (Wang et al. 2004) with a Gaussian window, data range 1, per-image mean."""


class MSSSIMOptions(_WindowOptions):
    """Multi-scale structural similarity (Wang et al. 2003), data range 1, per-image mean."""

    scales: int = Field(5, ge=1, le=5, description="number of scales (each halves the image); fewer scales use "
                                                  "the first weights of the paper, renormalised to sum to 1")


class LPIPSOptions(Options):
    """Learned perceptual image patch similarity (Zhang et al. 2018), per-image mean."""

    net: Literal["alex", "vgg", "squeeze"] = Field("alex", description="backbone whose features are compared")
    weights: Optional[str] = Field(None, description="the backbone's torchvision ImageNet " + WEIGHTS_HELP.format(
        name="alexnet-owt-7be5be79.pth, vgg16-397923af.pth or squeezenet1_1-b8a52dc0.pth"))


class FIDOptions(Options):
    """Frechet Inception distance (Heusel et al. 2017) between the generated and the real images."""

    weights: Optional[str] = Field(None, description="the Inception network's " + WEIGHTS_HELP.format(
        name="weights-inception-2015-12-05-6726825d.pth"))
    resize: Literal["clean", "tf_bilinear"] = Field(
        "clean", description="how images reach Inception's 299x299: 'clean' (antialiased bicubic on uint8 images, "
                             "as clean-fid) or 'tf_bilinear' (TensorFlow 1's bilinear resize, as the original "
                             "TF code and torch-fidelity)")
    feature: Literal[64, 192, 768, 2048] = Field(2048, description="Inception layer (its width) of the features")


class KIDOptions(FIDOptions):
    """Kernel Inception distance (Binkowski et al. 2018): polynomial-kernel MMD over random subsets."""

    subsets: int = Field(100, ge=1, le=10000, description="number of random subsets the MMD is averaged over")
    subset_size: int = Field(1000, ge=2, description="images per subset; clamped to the number of images (the "
                                                     "protocol records the size used)")
    degree: int = Field(3, ge=1, le=10, description="degree of the polynomial kernel")
    seed: int = Field(0, ge=0, description="seed of the subset sampling, so that KID is reproducible")

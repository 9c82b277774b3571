"""Options models of the built-in metrics (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

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


RESIZE_REPLACED = {"clean": "clean", "tf_bilinear": "legacy_tensorflow"}
"""The ``mode`` that replaces each value of the former ``resize`` option."""


class FIDOptions(Options):
    """Frechet Inception distance (Heusel et al. 2017) between the generated and the real images, as clean-fid."""

    weights: Optional[str] = Field(None, description="the Inception network's " + WEIGHTS_HELP.format(
        name="weights-inception-2015-12-05-6726825d.pth"))
    mode: Literal["clean", "legacy_tensorflow", "legacy_pytorch"] = Field(
        "clean", description="clean-fid's mode (the values equal clean-fid's): 'clean' (PIL bicubic resize to "
                             "299x299 on float images), 'legacy_tensorflow' (TensorFlow 1's bilinear resize, as the "
                             "original TF FID code) or 'legacy_pytorch' (torch's bilinear interpolate, as pytorch-fid) "
                             "(docs/metrics.md)")
    feature: Literal[64, 192, 768, 2048] = Field(2048, description="Inception layer (its width) of the features; "
                                                                   "clean-fid uses 2048")

    @model_validator(mode="before")
    @classmethod
    def _resize_was_replaced(cls, data: Any) -> Any:
        if isinstance(data, dict) and "resize" in data:
            old = data["resize"]
            hint = (f'write mode = "{RESIZE_REPLACED[old]}" instead of resize = "{old}"'
                    if isinstance(old, str) and old in RESIZE_REPLACED else "remove it and set mode")
            raise ValueError("option resize was replaced by mode, clean-fid's three modes (resize = \"clean\" -> "
                             "mode = \"clean\", resize = \"tf_bilinear\" -> mode = \"legacy_tensorflow\"); "
                             f"{hint}")
        return data


class KIDOptions(FIDOptions):
    """Kernel Inception distance (Binkowski et al. 2018): polynomial-kernel MMD over random subsets, as clean-fid."""

    subsets: int = Field(100, ge=1, le=10000, description="number of random subsets the MMD is averaged over")
    subset_size: int = Field(1000, ge=2, description="images per subset; clamped to the number of images (the "
                                                     "protocol records the size used)")
    degree: Literal[3] = Field(3, description="degree of the polynomial kernel: 3, the only degree of clean-fid's "
                                              "kernel_distance")
    seed: int = Field(0, ge=0, description="seed of numpy's random subset sampling, so that KID is reproducible")

    @field_validator("degree", mode="before")
    @classmethod
    def _cubic_only(cls, value: Any) -> Any:
        if type(value) is not int or value != 3:
            raise ValueError("KID is clean-fid's kernel_distance, whose polynomial kernel (x.y / d + 1)^3 has degree 3 "
                             "only; remove the option (or set it to 3)")
        return value

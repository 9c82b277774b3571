"""Full-reference metrics on images mapped to [0, 1]: L1, PSNR, SSIM and MS-SSIM, computed by torchmetrics."""

from __future__ import annotations

from typing import Any

from translate.api import DataError, EvalBatch, MetricContext

from .common import TorchmetricsMetric, check_pair, library, to_unit
from .options import L1Options, MSSSIMOptions, PSNROptions, SSIMOptions

#: Wang et al. (2003)'s weights of the five scales of MS-SSIM.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


class _Paired(TorchmetricsMetric):
    needs_aligned = True

    def update(self, batch: EvalBatch) -> None:
        check_pair(batch, self.name)
        self.add(to_unit(batch.fake), to_unit(batch.real))
        self.count += batch.fake.shape[0]


class L1(_Paired):
    """Mean absolute error over every pixel and channel (images in [0, 1]); value ``l1``."""

    name = "l1"
    larger_is_better = False

    def protocol(self) -> dict[str, Any]:
        return {"library": library(), "images": "[0, 1]", "reduction": "mean over every pixel of the split"}


class PSNR(_Paired):
    """Peak signal-to-noise ratio in dB, data range 1; value ``psnr`` (inf for identical images)."""

    name = "psnr"

    def __init__(self, options: PSNROptions, ctx: MetricContext) -> None:
        from torchmetrics.image import PeakSignalNoiseRatio

        self.average = options.average
        dim = (1, 2, 3) if options.average == "image" else None
        super().__init__(PeakSignalNoiseRatio(data_range=1.0, dim=dim, reduction="elementwise_mean"), ctx)

    def protocol(self) -> dict[str, Any]:
        how = ("mean of per-image PSNRs" if self.average == "image"
               else "one PSNR from the mean squared error over every pixel of the split")
        return {"library": library(), "images": "[0, 1]", "data_range": 1.0, "average": how}


class SSIM(_Paired):
    """Structural similarity with a Gaussian window, data range 1; value ``ssim`` (mean over images)."""

    name = "ssim"

    def __init__(self, options: SSIMOptions, ctx: MetricContext) -> None:
        from torchmetrics.image import StructuralSimilarityIndexMeasure

        self.options = options
        super().__init__(StructuralSimilarityIndexMeasure(
            gaussian_kernel=True, sigma=options.sigma, kernel_size=options.kernel_size, data_range=1.0), ctx)

    def update(self, batch: EvalBatch) -> None:
        side = min(batch.fake.shape[-2:])
        if side < self.options.kernel_size:
            raise DataError(f"metric ssim: images of {batch.fake.shape[-2]}x{batch.fake.shape[-1]} are smaller than "
                            f"the {self.options.kernel_size}-pixel window; lower option kernel_size")
        super().update(batch)

    def protocol(self) -> dict[str, Any]:
        return {"library": library(), "images": "[0, 1]", "data_range": 1.0, "window": "gaussian",
                "kernel_size": self.options.kernel_size, "sigma": self.options.sigma,
                "average": "mean of per-image SSIMs (channels averaged)"}


class MSSSIM(_Paired):
    """Multi-scale SSIM, data range 1; value ``ms_ssim`` (mean over images)."""

    name = "ms_ssim"

    def __init__(self, options: MSSSIMOptions, ctx: MetricContext) -> None:
        from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure

        self.options = options
        self.where = ctx.where
        weights = MS_SSIM_WEIGHTS[:options.scales]
        self.betas = tuple(w / sum(weights) for w in weights)
        super().__init__(MultiScaleStructuralSimilarityIndexMeasure(
            gaussian_kernel=True, sigma=options.sigma, kernel_size=options.kernel_size, data_range=1.0,
            betas=self.betas, normalize="relu"), ctx)

    def update(self, batch: EvalBatch) -> None:
        try:
            super().update(batch)
        except ValueError:  # torchmetrics: the image is too small for this many scales and this window
            height, width = batch.fake.shape[-2:]
            raise DataError(
                f"metric ms_ssim ({self.where}): images of {height}x{width} are too small for scales = "
                f"{self.options.scales} with kernel_size = {self.options.kernel_size}, which need at least "
                f"{self.min_side()}x{self.min_side()}; each scale halves the image, so lower option scales (or "
                "kernel_size), or use ssim") from None

    def min_side(self) -> int:
        """The smallest image side torchmetrics accepts for these options."""
        scales, kernel = self.options.scales, self.options.kernel_size
        return max(2 ** scales, kernel * max(1, scales - 1) ** 2)

    def protocol(self) -> dict[str, Any]:
        return {"library": library(), "images": "[0, 1]", "data_range": 1.0, "window": "gaussian",
                "kernel_size": self.options.kernel_size, "sigma": self.options.sigma, "scales": self.options.scales,
                "betas": [round(b, 6) for b in self.betas], "normalize": "relu",
                "average": "mean of per-image MS-SSIMs"}


def build_l1(options: L1Options, ctx: MetricContext) -> L1:
    """The ``l1`` metric."""
    from torchmetrics.regression import MeanAbsoluteError

    return L1(MeanAbsoluteError(), ctx)


def build_psnr(options: PSNROptions, ctx: MetricContext) -> PSNR:
    """The ``psnr`` metric."""
    return PSNR(options, ctx)


def build_ssim(options: SSIMOptions, ctx: MetricContext) -> SSIM:
    """The ``ssim`` metric."""
    return SSIM(options, ctx)


def build_ms_ssim(options: MSSSIMOptions, ctx: MetricContext) -> MSSSIM:
    """The ``ms_ssim`` metric."""
    return MSSSIM(options, ctx)


__all__ = ["L1", "PSNR", "SSIM", "MSSSIM", "build_l1", "build_psnr", "build_ssim", "build_ms_ssim"]

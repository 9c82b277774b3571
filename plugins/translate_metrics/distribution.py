"""FID and KID: distances between the Inception features of the generated and the real images.

torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance`` do the arithmetic (the
Frechet distance through the eigenvalues of the covariance product, no hand-written matrix square
root; the polynomial-kernel MMD over random subsets); the features come from
:class:`~.inception.InceptionFeatures` (torch-fidelity's TensorFlow-compatible Inception) with the
resize the options choose. Neither needs paired data: every generated image and every real image of
the output domain is added.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from translate.api import EvalBatch, Metric, MetricContext, TranslateError

from .common import full_precision, library, option_path, rgb, to_uint8, value
from .inception import InceptionFeatures, resolve_inception
from .options import FIDOptions, KIDOptions


class _Distribution(Metric):
    needs_aligned = False
    larger_is_better = False
    min_images = 2
    name = ""

    def __init__(self, inner: Any, features: torch.nn.Module, ctx: MetricContext) -> None:
        self.inner = inner.to(ctx.device)
        self.features = features
        self.device = ctx.device
        self.sizes: set[tuple[int, int]] = set()
        self.counts = {"fake": 0, "real": 0}

    def update(self, batch: EvalBatch) -> None:
        for kind, images in (("fake", batch.fake), ("real", batch.real)):
            if images.dim() != 4:
                raise TranslateError(f"metric {self.name}: expected (N, C, H, W) {kind} images, "
                                     f"got {tuple(images.shape)}")
            self.sizes.add((int(images.shape[-2]), int(images.shape[-1])))
            with torch.no_grad(), full_precision(self.device):
                self.inner.update(rgb(to_uint8(images.to(self.device)), self.name), real=kind == "real")
            self.counts[kind] += images.shape[0]

    def add_features(self, fake: torch.Tensor, real: torch.Tensor) -> None:
        """Add precomputed features (only with an identity feature network; for tests of the arithmetic)."""
        self.inner.update(fake.to(self.device), real=False)
        self.inner.update(real.to(self.device), real=True)
        self.counts["fake"] += fake.shape[0]
        self.counts["real"] += real.shape[0]

    def check_counts(self) -> None:
        few = {k: n for k, n in self.counts.items() if n < self.min_images}
        if few:
            raise TranslateError(f"metric {self.name}: needs at least {self.min_images} generated and "
                                 f"{self.min_images} real images to estimate the feature distributions, got "
                                 f"{self.counts['fake']} generated and {self.counts['real']} real")

    def reset(self) -> None:
        self.inner.reset()
        self.sizes = set()
        self.counts = {"fake": 0, "real": 0}

    def protocol(self) -> dict[str, Any]:
        feature_protocol = self.features.protocol() if hasattr(self.features, "protocol") else {}
        return {
            "library": f"{library()} (arithmetic), {feature_protocol.pop('feature_library', 'custom features')}",
            **feature_protocol,
            "image_sizes": [list(s) for s in sorted(self.sizes)],
            "images": "[-1, 1] quantised to uint8 [0, 255] (as saved PNGs), grey repeated to RGB",
            "generated_images": self.counts["fake"], "real_images": self.counts["real"],
        }


class FID(_Distribution):
    """Frechet Inception distance; value ``fid`` (0 when both sets have the same feature mean and covariance)."""

    name = "fid"

    def __init__(self, features: torch.nn.Module, ctx: MetricContext) -> None:
        from torchmetrics.image import FrechetInceptionDistance

        inner = FrechetInceptionDistance(feature=features, reset_real_features=True, normalize=False)
        super().__init__(inner, features, ctx)

    def compute(self) -> dict[str, float]:
        self.check_counts()
        return {"fid": max(0.0, value(self.inner.compute()))}


class KID(_Distribution):
    """Kernel Inception distance over random subsets; values ``kid`` (mean) and ``kid_std``."""

    name = "kid"

    def __init__(self, features: torch.nn.Module, options: KIDOptions, ctx: MetricContext) -> None:
        from torchmetrics.image import KernelInceptionDistance

        self.options = options
        self.used_subset_size: int | None = None
        with warnings.catch_warnings():  # "will save all extracted features": yes, N x feature floats
            warnings.filterwarnings("ignore", message=".*save all extracted features.*")
            inner = KernelInceptionDistance(feature=features, subsets=options.subsets,
                                            subset_size=options.subset_size, degree=options.degree,
                                            reset_real_features=True, normalize=False)
        super().__init__(inner, features, ctx)

    def compute(self) -> dict[str, float]:
        self.check_counts()
        self.used_subset_size = min(self.options.subset_size, self.counts["fake"], self.counts["real"])
        self.inner.subset_size = self.used_subset_size
        with torch.random.fork_rng(devices=[]):  # subsets from the seed, the caller's random state untouched
            torch.manual_seed(self.options.seed)
            mean, std = self.inner.compute()
        return {"kid": value(mean), "kid_std": value(std)}

    def higher_is_better(self, value: str) -> bool:
        return False

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "subsets": self.options.subsets,
                "subset_size": self.used_subset_size if self.used_subset_size is not None else self.options.subset_size,
                "subset_size_requested": self.options.subset_size,
                "kernel": f"polynomial, degree {self.options.degree}, gamma 1/feature_dim, coef 1",
                "seed": self.options.seed}


def _features(options: FIDOptions, ctx: MetricContext, metric: str) -> InceptionFeatures:
    path = resolve_inception(options.weights, option=option_path(ctx, metric, "weights"), metric=metric.upper())
    return InceptionFeatures(path, options.feature, options.resize).to(ctx.device)


def build_fid(options: FIDOptions, ctx: MetricContext) -> FID:
    """The ``fid`` metric."""
    return FID(_features(options, ctx, "fid"), ctx)


def build_kid(options: KIDOptions, ctx: MetricContext) -> KID:
    """The ``kid`` metric."""
    return KID(_features(options, ctx, "kid"), options, ctx)

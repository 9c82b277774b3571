"""FID and KID as clean-fid computes them, in its three modes, with torch-fidelity's Inception.

Each image is quantised to uint8 (as a saved PNG), resized by clean-fid's own resize function of the
mode and converted as clean-fid's data loader does (:mod:`.modes`); :class:`~.inception.InceptionFeatures`
normalises it as clean-fid's network of the mode does and runs torch-fidelity's port of the
TensorFlow Inception graph. Every feature is kept as a float32 numpy array, as clean-fid keeps them;
the statistics (``np.mean``, ``np.cov``) and the distances (``cleanfid.fid.frechet_distance``,
``cleanfid.fid.kernel_distance``) are clean-fid's. Neither metric needs paired data: every generated
image and every real image of the output domain is added.

Both metrics also take *reference statistics* (:class:`translate.api.ReferenceStatistics`): the real
images' arrays saved once (``mu``, ``sigma``, ``feats``, ``mode``, ``count``), or clean-fid's
published files (``mu`` and ``sigma``, or ``feats``, the mode in the file name).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np
import torch

from translate.api import EvalBatch, Metric, MetricContext, TranslateError

from .common import check_rgb_context, full_precision, option_path, rgb, to_uint8
from .inception import InceptionFeatures, resolve_inception
from .modes import QUANTISE_STEP, RESIZE_STEP, build_resizer, cleanfid_version, mode_steps, preprocess
from .options import FIDOptions, KIDOptions
from .statistics import check_width, reference_count, reference_mode


class _Distribution(Metric):
    needs_aligned = False
    larger_is_better = False
    min_images = 2
    name = ""

    def __init__(self, features: torch.nn.Module, options: FIDOptions, ctx: MetricContext) -> None:
        self.features = features
        self.options = options
        self.mode = options.mode
        self.feature = int(getattr(features, "num_features", options.feature))
        self.device = ctx.device
        self.ctx = ctx
        self.resize = build_resizer(self.mode)
        self.reference: dict[str, np.ndarray] | None = None
        self.reference_source: str | None = None
        self.reference_mode: str | None = None
        self.reference_count: int | None = None
        self.notes: list[str] = []
        self.reset()

    # ------------------------------------------------------------------ features

    def update(self, batch: EvalBatch) -> None:
        self._add("fake", batch.fake)
        if self.reference is None:
            self._add("real", batch.real)

    def add_real(self, images: torch.Tensor) -> None:
        """Add real images only (``(N, C, H, W)`` in [-1, 1]; grey is repeated to RGB), for :meth:`statistics`."""
        self._add("real", images)

    def _add(self, kind: str, images: torch.Tensor) -> None:
        if images.dim() != 4:
            raise TranslateError(f"metric {self.name}: expected (N, C, H, W) {kind} images, got {tuple(images.shape)}")
        if images.shape[0] == 0:  # unpaired data: a batch may hold no new image on one side
            return
        self.sizes.add((int(images.shape[-2]), int(images.shape[-1])))
        self.feats[kind].append(self.features_of(images))

    def network_input(self, images: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` images in [-1, 1] -> the float32 ``(N, 3, h, w)`` batch in [0, 255] that clean-fid's
        data loader gives the network in this mode (on the CPU): uint8 quantisation, grey to RGB, the resize."""
        return preprocess(rgb(to_uint8(images), self.name), self.resize)

    def features_of(self, images: torch.Tensor) -> np.ndarray:
        """``(N, C, H, W)`` images in [-1, 1] -> ``(N, feature)`` float32 features, as clean-fid makes them."""
        batch = self.network_input(images).to(self.device)
        with torch.no_grad(), full_precision(self.device):
            features = self.features(batch)
        return features.detach().cpu().numpy().astype(np.float32, copy=False)

    def add_features(self, fake: Any, real: Any) -> None:
        """Add precomputed features (arrays or tensors, ``(N, dim)``; for tests of the arithmetic)."""
        for kind, values in (("fake", fake), ("real", real)):
            if isinstance(values, torch.Tensor):
                values = values.detach().cpu().numpy()
            self.feats[kind].append(np.asarray(values))

    def feature_sets(self) -> dict[str, np.ndarray]:
        """The features gathered since the last :meth:`reset`: ``{"fake": (N, d), "real": (M, d)}``."""
        return {kind: (np.concatenate(parts) if parts else np.zeros((0, self.feature), np.float32))
                for kind, parts in self.feats.items()}

    @property
    def counts(self) -> dict[str, int]:
        """Images added since the last :meth:`reset`, by set (``fake``, ``real``)."""
        return {kind: sum(len(part) for part in parts) for kind, parts in self.feats.items()}

    def reset(self) -> None:
        """Forget the images added so far (a reference given to :meth:`use_reference` stays)."""
        self.feats: dict[str, list[np.ndarray]] = {"fake": [], "real": []}
        self.sizes: set[tuple[int, int]] = set()
        self.notes = []

    def check_counts(self) -> None:
        counts = self.counts
        if self.reference is not None:
            if counts["fake"] < self.min_images:
                raise TranslateError(f"metric {self.name}: needs at least {self.min_images} generated images to "
                                     f"estimate their feature distribution, got {counts['fake']}")
            return
        if min(counts.values()) < self.min_images:
            raise TranslateError(f"metric {self.name}: needs at least {self.min_images} generated and "
                                 f"{self.min_images} real images to estimate the feature distributions, got "
                                 f"{counts['fake']} generated and {counts['real']} real")

    # ------------------------------------------------------------------ reference statistics

    def statistics(self) -> dict[str, np.ndarray]:
        """The real images' statistics: ``mu`` (float32), ``sigma`` (float64), ``feats`` (float32), ``mode``
        and ``count``; clean-fid's arrays, so one file serves FID and KID."""
        real = self.feature_sets()["real"]
        if len(real) < self.min_images:
            raise TranslateError(f"metric {self.name}: statistics of real images need at least {self.min_images} "
                                 f"images, got {len(real)}")
        return {"mu": np.mean(real, axis=0), "sigma": np.cov(real, rowvar=False), "feats": real,
                "mode": np.array(self.mode), "count": np.array(len(real), dtype=np.int64)}

    def use_reference(self, arrays: dict[str, np.ndarray], source: str) -> None:
        """Compare later generated images with the statistics ``arrays`` (from the file ``source``);
        the real images of later batches are ignored."""
        where = f"metric {self.name}: reference statistics {source}"
        check_width(arrays, self.feature, where, option_path(self.ctx, self.name, "feature"))
        mode = reference_mode(arrays, source, self.mode, where, option_path(self.ctx, self.name, "mode"))
        taken = self._take(arrays, where)
        self.reference, self.reference_source, self.reference_mode = taken, source, mode
        self.reference_count = reference_count(arrays, where)

    def _take(self, arrays: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        raise NotImplementedError

    # ------------------------------------------------------------------ protocol

    def protocol(self) -> dict[str, Any]:
        network = self.features.protocol() if hasattr(self.features, "protocol") else {}
        counts = self.counts
        out = {
            "library": f"{cleanfid_version()} (resize, statistics, distance), "
                       f"{network.pop('feature_library', 'custom features')} (network)",
            "mode": self.mode,
            "steps": mode_steps(self.mode, self.feature) if self.feature in (64, 192, 768, 2048) else [],
            **network,
            "resize": f"{self.mode}: {RESIZE_STEP[self.mode]}",
            "image_sizes": [list(s) for s in sorted(self.sizes)],
            "images": QUANTISE_STEP,
            "generated_images": counts["fake"],
            "real_images": counts["real"] if self.reference is None else self.reference_count,
        }
        if self.reference is not None:
            out["reference"] = self.reference_source
            out["reference_mode"] = self.reference_mode if self.reference_mode is not None else (
                f"unknown (neither an array mode nor a mode in the file name; assumed {self.mode})")
            out["reference_images"] = self.reference_count
        if self.notes:
            out["notes"] = list(self.notes)
        return out


class FID(_Distribution):
    """Frechet Inception distance; value ``fid`` (0 when both sets have the same feature mean and covariance)."""

    name = "fid"

    def _take(self, arrays: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        if "mu" in arrays and "sigma" in arrays:
            return {"mu": arrays["mu"], "sigma": arrays["sigma"]}
        if "feats" in arrays and arrays["feats"].shape[0] >= self.min_images:
            feats = arrays["feats"]
            return {"mu": np.mean(feats, axis=0), "sigma": np.cov(feats, rowvar=False)}
        raise TranslateError(f"{where} hold {', '.join(sorted(arrays)) or 'no arrays'}; FID needs mu and sigma (or "
                             f"feats of at least {self.min_images} images), as `translate eval stats` and clean-fid "
                             "write them")

    def compute(self) -> dict[str, float]:
        from cleanfid.fid import frechet_distance

        self.check_counts()
        feats = self.feature_sets()
        fake = feats["fake"]
        mu_fake, sigma_fake = np.mean(fake, axis=0), np.cov(fake, rowvar=False)
        if self.reference is not None:
            mu_real, sigma_real = self.reference["mu"], self.reference["sigma"]
        else:
            mu_real, sigma_real = np.mean(feats["real"], axis=0), np.cov(feats["real"], rowvar=False)
        real_count = self.reference_count if self.reference is not None else len(feats["real"])
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fid = frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real)
        except ValueError as err:  # "Imaginary component ...": the square root is not a real matrix
            raise TranslateError(
                f"metric fid: the square root of the product of the covariance matrices has a large imaginary part "
                f"(clean-fid: {err}), so FID is not defined for these features. The covariances are too "
                f"ill-conditioned: {len(fake)} generated and {real_count or 'an unknown number of'} real images "
                f"estimate {self.feature}x{self.feature} covariances; use more images (at least as many as the "
                f"feature width) or a narrower feature ({option_path(self.ctx, self.name, 'feature')})") from None
        notes = [f"clean-fid printed: {printed.getvalue().strip()}"] if printed.getvalue().strip() else []
        notes += [f"{w.category.__name__} in the matrix square root: {w.message}" for w in caught
                  if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))]
        self.notes.extend(n for n in dict.fromkeys(notes) if n not in self.notes)  # each once, in order
        return {"fid": float(fid)}


class KID(_Distribution):
    """Kernel Inception distance over random subsets; values ``kid`` (mean) and ``kid_std``."""

    name = "kid"

    def __init__(self, features: torch.nn.Module, options: KIDOptions, ctx: MetricContext) -> None:
        super().__init__(features, options, ctx)
        self.used_subset_size: int | None = None

    def _take(self, arrays: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
        if "feats" not in arrays:
            only = " (FID statistics, such as clean-fid's <dataset>_<mode>_<split>_<res>.npz)" \
                if "mu" in arrays and "sigma" in arrays else ""
            raise TranslateError(f"{where} hold {', '.join(sorted(arrays)) or 'no arrays'}{only}; KID needs the "
                                 "features of the real images, the array feats: use clean-fid's ..._kid.npz file or "
                                 "a file from `translate eval stats`")
        if arrays["feats"].shape[0] < self.min_images:
            raise TranslateError(f"{where}: feats holds {arrays['feats'].shape[0]} images; KID needs at least "
                                 f"{self.min_images}")
        return {"feats": arrays["feats"]}

    def compute(self) -> dict[str, float]:
        from cleanfid.fid import kernel_distance

        self.check_counts()
        feats = self.feature_sets()
        fake = feats["fake"]
        real = self.reference["feats"] if self.reference is not None else feats["real"]
        subsets, size = self.options.subsets, self.options.subset_size
        self.used_subset_size = min(size, len(fake), len(real))
        state = np.random.get_state()  # clean-fid draws from numpy's global generator: seed it, then restore it
        try:
            np.random.seed(self.options.seed)
            kid = kernel_distance(fake, real, num_subsets=subsets, max_subset_size=size)
            std = 0.0
            if subsets > 1:  # the same subsets again, one at a time, for their spread
                np.random.seed(self.options.seed)
                std = float(np.std([kernel_distance(fake, real, num_subsets=1, max_subset_size=size)
                                    for _ in range(subsets)]))
        finally:
            np.random.set_state(state)
        return {"kid": float(kid), "kid_std": std}

    def higher_is_better(self, value: str) -> bool:
        return False

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "subsets": self.options.subsets,
                "subset_size": self.used_subset_size if self.used_subset_size is not None else self.options.subset_size,
                "subset_size_requested": self.options.subset_size,
                "kernel": "polynomial (x.y / feature_dim + 1)^3 (clean-fid's kernel_distance)",
                "kid_std_meaning": "population standard deviation (ddof 0) of the per-subset values",
                "seed": self.options.seed,
                "sampling": "numpy's global generator seeded with seed (its state restored afterwards), subsets "
                            "without replacement, as clean-fid's kernel_distance(generated, real)"}


def _features(options: FIDOptions, ctx: MetricContext, metric: str) -> InceptionFeatures:
    check_rgb_context(ctx, metric)
    path = resolve_inception(options.weights, option=option_path(ctx, metric, "weights"), metric=metric.upper())
    return InceptionFeatures(path, options.feature, options.mode).to(ctx.device)


def build_fid(options: FIDOptions, ctx: MetricContext) -> FID:
    """The ``fid`` metric."""
    return FID(_features(options, ctx, "fid"), options, ctx)


def build_kid(options: KIDOptions, ctx: MetricContext) -> KID:
    """The ``kid`` metric."""
    return KID(_features(options, ctx, "kid"), options, ctx)


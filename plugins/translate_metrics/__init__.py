"""Built-in metrics: full-reference (l1, psnr, ssim, ms_ssim, lpips) and distribution (fid, kid).

torchmetrics computes the full-reference metrics; FID and KID equal clean-fid's in its three modes
(clean-fid's resize, statistics and distances, torch-fidelity's Inception network). Pretrained
weights (LPIPS's backbone, Inception) come from local files or the Hub cache through
:func:`translate.api.resolve_weights`, never from a silent download. Torch is imported only when a
factory runs, so loading the plugin stays fast. ``docs/metrics.md`` describes every metric, its
value names and its protocol.
"""

from __future__ import annotations

from typing import Callable

from translate.api import hookimpl, lazy_factory

from .options import FIDOptions, KIDOptions, L1Options, LPIPSOptions, MSSSIMOptions, PSNROptions, SSIMOptions

_PIXEL = f"{__name__}.pixel"


@hookimpl
def register_metrics(register: Callable[..., None]) -> None:
    register("l1", lazy_factory(_PIXEL, "build_l1"), options=L1Options, values=("l1",), smoke_options={},
             description="mean absolute error to the ground truth on [0, 1] images (lower is better); value l1")
    register("psnr", lazy_factory(_PIXEL, "build_psnr"), options=PSNROptions, values=("psnr",), smoke_options={},
             description="peak signal-to-noise ratio in dB, data range 1, mean over images; value psnr")
    register("ssim", lazy_factory(_PIXEL, "build_ssim"), options=SSIMOptions, values=("ssim",),
             smoke_options={"kernel_size": 3},
             description="structural similarity, Gaussian window, mean over images; value ssim")
    register("ms_ssim", lazy_factory(_PIXEL, "build_ms_ssim"), options=MSSSIMOptions, values=("ms_ssim",),
             smoke_options={"scales": 2, "kernel_size": 3},
             description="multi-scale structural similarity (5 scales need images of at least 176x176); value ms_ssim")
    register("lpips", lazy_factory(f"{__name__}.lpips", "build_lpips"), options=LPIPSOptions, values=("lpips",),
             smoke_options={"net": "alex"},
             description="learned perceptual distance (AlexNet/VGG/SqueezeNet features; needs the torchvision "
                         "weights file; lower is better); value lpips")
    register("fid", lazy_factory(f"{__name__}.distribution", "build_fid"), options=FIDOptions, values=("fid",),
             smoke_options={"feature": 64},
             description="Frechet Inception distance to the real images, as clean-fid in its mode (needs the "
                         "Inception weights file; lower is better); value fid")
    register("kid", lazy_factory(f"{__name__}.distribution", "build_kid"), options=KIDOptions,
             values=("kid", "kid_std"),
             smoke_options={"feature": 64, "subsets": 2, "subset_size": 2},
             description="kernel Inception distance to the real images, as clean-fid in its mode (needs the "
                         "Inception weights file; lower is better); values kid, kid_std")

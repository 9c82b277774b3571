"""Built-in losses: adversarial objectives (vanilla, lsgan, hinge, wgan_gp) and pixel losses.

Torch is imported only when a factory runs, so loading the plugin stays fast.
"""

from __future__ import annotations

from typing import Any, Callable

from translate.api import NoOptions, hookimpl

from .options import LabelOptions, SmoothL1Options, WGANGPOptions


def _vanilla(options: LabelOptions) -> Any:
    from .gan import VanillaGANLoss

    return VanillaGANLoss(options.target_real_label, options.target_fake_label)


def _lsgan(options: LabelOptions) -> Any:
    from .gan import LSGANLoss

    return LSGANLoss(options.target_real_label, options.target_fake_label)


def _hinge(options: NoOptions) -> Any:
    from .gan import HingeGANLoss

    return HingeGANLoss()


def _wgan_gp(options: WGANGPOptions) -> Any:
    from .gan import WGANGPLoss

    return WGANGPLoss(options.lambda_gp)


def _l1(options: NoOptions) -> Any:
    from .pixel import L1Loss

    return L1Loss()


def _l2(options: NoOptions) -> Any:
    from .pixel import L2Loss

    return L2Loss()


def _smooth_l1(options: SmoothL1Options) -> Any:
    from .pixel import SmoothL1Loss

    return SmoothL1Loss(options.beta)


@hookimpl
def register_losses(register: Callable[..., None]) -> None:
    register("vanilla", _vanilla, options=LabelOptions,
             description="GAN log loss on logits (BCE), non-saturating G loss; pix2pix")
    register("lsgan", _lsgan, options=LabelOptions, description="least-squares GAN loss; CycleGAN")
    register("hinge", _hinge, description="hinge GAN loss")
    register("wgan_gp", _wgan_gp, options=WGANGPOptions,
             description="Wasserstein critic loss with gradient penalty (not halved)")
    register("l1", _l1, description="mean absolute error")
    register("l2", _l2, description="mean squared error")
    register("smooth_l1", _smooth_l1, options=SmoothL1Options, description="smooth L1 (Huber-like) error")

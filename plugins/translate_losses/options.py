"""Options models of the built-in losses (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from pydantic import Field

from translate.api import Options


class LabelOptions(Options):
    """Target values of the log-loss and least-squares GAN objectives (as in the reference code)."""

    target_real_label: float = Field(1.0, description="target for real samples (and for G's fakes)")
    target_fake_label: float = Field(0.0, description="target for fake samples")


class WGANGPOptions(Options):
    """WGAN-GP critic objective (Gulrajani et al. 2017)."""

    lambda_gp: float = Field(10.0, ge=0, description="weight of the gradient penalty")


class SmoothL1Options(Options):
    """Huber-style smooth L1."""

    beta: float = Field(1.0, gt=0, description="below |error| = beta the loss is quadratic")

"""Options of the pix2pix method (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from translate.api import Options


class Pix2PixOptions(Options):
    """Options of the pix2pix method. The paper's ablations are expressed with these."""

    validation_rules = (
        "`lambda_l1`, `lambda_gan` and `lambda_perceptual` must not all be 0.",
        "`lambda_perceptual > 0` needs a 3-channel target (the loss network sees RGB images).",
        "With `lambda_gan = 0` no discriminator is built (a `[discriminator]` table is still validated, but unused).",
    )

    #: The ``[losses.<role>]`` tables this method reads; any other role is a recipe error.
    loss_roles: ClassVar[tuple[str, ...]] = ("adversarial", "reconstruction", "perceptual")

    lambda_l1: float = Field(100.0, ge=0, description="Weight of the reconstruction (L1) loss; 0 = cGAN only.")
    lambda_gan: float = Field(1.0, ge=0, description="Weight of the adversarial loss; 0 = L1 only (no discriminator).")
    lambda_perceptual: float = Field(
        0.0, ge=0,
        description="Weight of an optional perceptual (feature reconstruction) loss on G's output, the "
        "[losses.perceptual] table (default: the 'perceptual' loss, VGG-16 relu2_2); 0 = off, as in the paper.",
    )
    conditional: bool = Field(True, description="D sees input and output (cGAN); false = unconditional GAN ablation.")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of the generator.")
    lr_d: float | None = Field(None, gt=0, description="Adam learning rate of the discriminator (default: lr).")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    d_order: Literal["fake_first", "real_first"] = Field(
        "fake_first",
        description="order in which the discriminator step evaluates D: 'fake_first' as the authors' code "
        "(fake, then real), 'real_first' as translate 0.1.0. The losses are the same; BatchNorm running "
        "statistics in D differ.",
    )
    optimizer: Literal["fused", "reference"] = Field(
        "fused",
        description="Adam implementation: 'fused' (one kernel for all parameters, fast) or 'reference' "
        "(torch.optim.Adam with its defaults, as the authors' code: updates equal theirs bit for bit; fused "
        "Adam differs by rounding)",
    )
    test_mode: Literal["train", "eval"] = Field(
        "train",
        description="Test-time behaviour recorded in the model: 'train' keeps dropout on and uses batch "
        "statistics (the paper), 'eval' uses running statistics and no dropout.",
    )

    @model_validator(mode="after")
    def _some_loss(self) -> "Pix2PixOptions":
        if self.lambda_l1 == 0 and self.lambda_gan == 0 and self.lambda_perceptual == 0:
            raise ValueError("lambda_l1 and lambda_gan are both 0 (and lambda_perceptual is 0): nothing to train")
        return self

"""Options of the CycleGAN method (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from translate.api import Options


class CycleGANOptions(Options):
    """CycleGAN (Zhu et al., ICCV 2017); defaults are the paper's."""

    #: The ``[losses.<role>]`` tables this method reads; any other role is a recipe error.
    loss_roles: ClassVar[tuple[str, ...]] = ("adversarial", "cycle", "identity")

    lambda_A: float = Field(10.0, ge=0, description="Weight of the cycle loss A -> B -> A.")
    lambda_B: float = Field(10.0, ge=0, description="Weight of the cycle loss B -> A -> B.")
    lambda_identity: float = Field(
        0.5, ge=0,
        description="Identity loss weight as a fraction of the cycle weights (0.5 x lambda); 0 turns it off. "
        "Needs the same channel count in A and B.",
    )
    lambda_gan: float = Field(1.0, gt=0, description="Weight of each adversarial loss.")
    pool_size: int = Field(50, ge=0, description="Image history pool per discriminator (0: no pool).")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate (generators).")
    lr_d: float | None = Field(None, gt=0, description="Adam learning rate of the discriminators (default: lr).")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    name_a: str = Field("A", min_length=1, description="Name of domain A (recorded in the model, e.g. 'horse').")
    name_b: str = Field("B", min_length=1, description="Name of domain B (e.g. 'zebra').")
    default_direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="Generator `translate infer` runs by default.")
    test_mode: Literal["eval", "train"] = Field("eval", description="Test-time mode recorded in the model.")

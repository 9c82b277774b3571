"""Options of the colorization method and data sets (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from translate.api import FixedSizeOptions, GeneratedOptions, Options


class ColorizationOptions(Options):
    """Options of the ``colorization`` method: pix2pix on L -> ab (Isola et al. 2017, section 4.5)."""

    loss_roles: ClassVar[tuple[str, ...]] = ("adversarial", "reconstruction")
    validation_rules = (
        "`lambda_l1` and `lambda_gan` must not both be 0.",
        "The data set must serve a 1-channel (grey) or 3-channel input and a 3-channel (RGB) target.",
    )

    lambda_l1: float = Field(100.0, ge=0, description="Weight of the reconstruction (L1) loss on the normalised "
                                                      "ab channels (ab / 110); 0 = cGAN only.")
    lambda_gan: float = Field(1.0, ge=0, description="Weight of the adversarial loss; 0 = L1 only (no discriminator).")
    conditional: bool = Field(True, description="D sees the normalised L and ab stacked (3 channels: cGAN); false: "
                                                "D sees ab alone (2 channels, the unconditional ablation).")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of the generator.")
    lr_d: Optional[float] = Field(None, gt=0, description="Adam learning rate of the discriminator (default: lr).")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    optimizer: Literal["fused", "reference"] = Field(
        "fused", description="Adam implementation: 'fused' (one kernel for all parameters) or 'reference' "
                             "(torch.optim.Adam with its defaults)")
    test_mode: Literal["train", "eval"] = Field(
        "train", description="Test-time behaviour recorded in the model: 'train' keeps dropout on and uses batch "
                             "statistics (the paper), 'eval' uses running statistics and no dropout.")

    @model_validator(mode="after")
    def _some_loss(self) -> "ColorizationOptions":
        if self.lambda_l1 == 0 and self.lambda_gan == 0:
            raise ValueError("lambda_l1 and lambda_gan are both 0: nothing to train")
        return self


_INPUT = "channels of the input: always 1, the grey image whose Lab L is the target's"
_OUTPUT = "channels of the target: always 3, the RGB image"


class ColorFolderOptions(FixedSizeOptions):
    """Options of ``colorization``: any folder of colour images, served as (grey, RGB) pairs."""

    validation_rules = (
        "`crop_size` must not exceed `load_size` (`resize_and_crop`, `scale_width_and_crop`).",
        "`input_channels` is 1 and `output_channels` 3.",
    )

    root: str = Field(description="folder of colour images: root/<split>/ (train, val, test) when it has one, "
                                  "else root itself for every split")
    recursive: bool = Field(True, description="also read images in sub-folders (ImageNet's train/<class>/ layout)")
    input_channels: Literal[1] = Field(1, description=_INPUT)
    output_channels: Literal[3] = Field(3, description=_OUTPUT)


MAX_COUNT = 100_000
MAX_EXTRA_COUNT = 10_000


class ColorShapesOptions(GeneratedOptions):
    """Options of ``synthetic_colorization``: generated colour shapes, served as (grey, RGB) pairs."""

    validation_rules = ("The size rules of `colorization`, after the defaults of `load_size` and `crop_size`.",)

    root: str = Field("data/colorization_shapes", description="where the generated files go")
    count: int = Field(400, ge=1, le=MAX_COUNT, description="images in the train split")
    val_count: int = Field(16, ge=1, le=MAX_EXTRA_COUNT, description="images in the val split")
    test_count: int = Field(50, ge=0, le=MAX_EXTRA_COUNT,
                            description="images in the test split; their grey versions are also written to "
                                        "test_inputs/ for translate infer")
    input_channels: Literal[1] = Field(1, description=_INPUT)
    output_channels: Literal[3] = Field(3, description=_OUTPUT)

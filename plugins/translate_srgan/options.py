"""Options models of the SRGAN plugin (pydantic only, so the plugin imports without torch)."""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from translate.api import Options

Scale = Literal[2, 4, 8]
MAX_SIDE = 8192
MAX_COUNT = 100_000
MAX_EXTRA_COUNT = 10_000


class SRResNetOptions(Options):
    """SRResNet (Ledig et al. 2017, figure 4): 9x9 conv + PReLU, residual blocks, long skip, PixelShuffle x2 blocks."""

    n_blocks: int = Field(16, ge=1, le=64, description="residual blocks (conv-BN-PReLU-conv-BN + skip); paper: 16")
    channels: int = Field(64, ge=1, le=512, description="feature channels of every block; paper: 64")
    scale: Scale = Field(4, description="upscaling factor: log2(scale) PixelShuffle(2) blocks; paper: 4")
    output: Literal["linear", "tanh"] = Field(
        "linear",
        description="last layer: 'linear' (the paper's 9x9 conv, no activation, trained towards [-1, 1] targets; "
        "outputs are clamped to [-1, 1] when saved or evaluated) or 'tanh' (bounded, as several reimplementations)",
    )


class SRDiscriminatorOptions(Options):
    """The SRGAN discriminator (figure 4): eight 3x3 convs, BN, LeakyReLU 0.2, dense 1024, dense 1."""

    ndf: int = Field(64, ge=1, le=512,
                     description="channels of the first two convs (then x2, x4, x8: 64, 128, 256, 512 in the paper)")
    dense: int = Field(1024, ge=1, le=8192, description="units of the hidden dense layer; paper: 1024")
    pool_size: int = Field(
        6, ge=1, le=64,
        description="side of the adaptive average pooling before the dense layers (6: a 96x96 input passes "
        "unchanged, as in the paper; other sizes are pooled to 6x6 so any input size works)",
    )


class SRGANOptions(Options):
    """The srgan method: MSE pre-training (SRResNet), then content + lambda_adv * adversarial loss."""

    loss_roles: ClassVar[tuple[str, ...]] = ("content", "adversarial")
    validation_rules = (
        "`adversarial = false` trains SRResNet alone (MSE); no discriminator is built and `pretrain_steps` "
        "must be 0 (`[discriminator]` and `[losses.*]` tables are still validated, but unused).",
    )

    pretrain_steps: int = Field(
        0, ge=0,
        description="optimizer steps of MSE-only pre-training (SRResNet) before the GAN phase starts; the phase "
        "is derived from the engine's step counter, so a resumed run switches at the same step (paper: 1e6)",
    )
    adversarial: bool = Field(True, description="train with the discriminator after pre-training (SRGAN); "
                              "false: SRResNet, MSE only")
    lambda_content: float = Field(1.0, gt=0, description="weight of the content loss ([losses.content]) in the "
                                  "GAN phase")
    lambda_adv: float = Field(1e-3, gt=0, description="weight of the adversarial loss; paper: 1e-3")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate of the generator; paper: 1e-4")
    lr_d: Optional[float] = Field(None, gt=0, description="Adam learning rate of the discriminator (default: lr)")
    beta1: float = Field(0.9, ge=0, lt=1, description="Adam beta1; paper: 0.9")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    reset_optimizer: bool = Field(
        True,
        description="start the generator's Adam afresh at the first GAN step (the paper trains SRGAN as a new "
        "run initialised from the SRResNet weights)",
    )

    @model_validator(mode="after")
    def _pretrain_needs_gan(self) -> "SRGANOptions":
        if not self.adversarial and self.pretrain_steps:
            raise ValueError("pretrain_steps is set but adversarial = false: the whole run is MSE training already")
        return self


class SRServeOptions(Options):
    """How low/high-resolution pairs are served (shared by ``sr_folder`` and ``sr_shapes``)."""

    validation_rules = (
        "`crop_size` and `eval_crop_size` must be multiples of `scale`.",
    )

    scale: int = Field(4, ge=1, le=8, description="downsampling factor: the input is the HR crop bicubically "
                       "downsampled by this (Pillow BICUBIC, antialiased)")
    crop_size: int = Field(96, ge=1, le=MAX_SIDE, description="side of the square high-resolution training crops "
                           "(random on the train split); paper: 96")
    eval_crop_size: Optional[int] = Field(
        None, ge=1, le=MAX_SIDE,
        description="side of the centre crop of val/test images (default: crop_size); see full_eval_images")
    full_eval_images: bool = Field(
        False, description="val/test: whole images, trimmed at the right and bottom to multiples of scale, "
        "instead of a centre crop (images of different sizes then evaluate one by one)")
    flip: bool = Field(False, description="random horizontal flip on the train split (not in the paper)")
    channels: Literal[1, 3] = Field(3, description="channels of both images (3: RGB, 1: luminance)")
    max_items: Optional[int] = Field(None, ge=1, description="use only the first N images (sorted by name)")

    def eval_size(self) -> int:
        """The side of the val/test centre crops."""
        return self.eval_crop_size if self.eval_crop_size is not None else self.crop_size

    @model_validator(mode="after")
    def _multiples(self) -> "SRServeOptions":
        for key, value in (("crop_size", self.crop_size), ("eval_crop_size", self.eval_size())):
            if value % self.scale:
                raise ValueError(f"{key} ({value}) must be a multiple of scale ({self.scale})")
        return self


class SRFolderOptions(SRServeOptions):
    """Options of ``sr_folder``: any folder of (high-resolution) images."""

    validation_rules = (
        "Images of a split are in `root/<folder>` for a `split_folders` entry, else `root/<split>/` when that "
        "folder exists, else `root` itself (every split then reads the same images).",
    )

    root: str = Field(description="data folder: images, or one sub-folder per split (train, val, test)")
    split_folders: dict[str, str] = Field(
        default_factory=dict,
        description="split -> folder under root (e.g. {train = \"DIV2K_train_HR\", val = \"DIV2K_valid_HR\"})")


class SRShapesOptions(SRServeOptions):
    """Options of ``sr_shapes``: generated textured shapes (stripes, checkers, rings) with sharp edges."""

    validation_rules = (
        "`image_size` must be a multiple of `scale`; `crop_size` and `eval_crop_size` must not exceed it.",
    )

    root: str = Field("data/sr_shapes", description="where the generated files go")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="generation seed (same seed, same files)")
    count: int = Field(200, ge=1, le=MAX_COUNT, description="high-resolution images in the train split")
    val_count: int = Field(8, ge=1, le=MAX_EXTRA_COUNT, description="images in the val split")
    test_count: int = Field(16, ge=0, le=MAX_EXTRA_COUNT,
                            description="images in the test split; their bicubic downsamples (by scale) are also "
                            "written to test_inputs/ for translate infer")
    image_size: int = Field(96, ge=16, le=1024, description="side of the generated high-resolution images")
    crop_size: int = Field(48, ge=1, le=MAX_SIDE, description="side of the square high-resolution training crops")
    eval_crop_size: Optional[int] = Field(
        None, ge=1, le=MAX_SIDE, description="side of the centre crop of val/test images (default: image_size)")

    def eval_size(self) -> int:
        return self.eval_crop_size if self.eval_crop_size is not None else self.image_size

    @model_validator(mode="after")
    def _fits(self) -> "SRShapesOptions":
        if self.image_size % self.scale:
            raise ValueError(f"image_size ({self.image_size}) must be a multiple of scale ({self.scale})")
        for key, value in (("crop_size", self.crop_size), ("eval_crop_size", self.eval_size())):
            if value > self.image_size:
                raise ValueError(f"{key} ({value}) is larger than image_size ({self.image_size})")
        return self

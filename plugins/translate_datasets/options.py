"""Options of the built-in paired data sets (pydantic only: importing this module is cheap)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from translate import Options

Channels = Literal[1, 3, 4]
PreprocessMode = Literal["resize_and_crop", "crop", "scale_width_and_crop", "resize", "none"]


class ServeOptions(Options):
    """How pairs are served: direction, channel counts and augmentation (shared by all paired sets)."""

    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="AtoB: A is the input, B the target; BtoA swaps them")
    input_channels: Channels = Field(3, description="channels of the input image (1, 3 or 4)")
    output_channels: Channels = Field(3, description="channels of the target image (1, 3 or 4)")
    preprocess: PreprocessMode = Field("resize_and_crop", description="training augmentation, see translate.augment")
    flip: bool = Field(True, description="random horizontal flip on the train split")
    max_items: Optional[int] = Field(None, ge=1, description="use only the first N pairs (sorted by name)")
    size_multiple: int = Field(1, ge=1, description="preprocess 'none': round sizes to a multiple of this")


def check_sizes(preprocess: str, load_size: int, crop_size: int, size_multiple: int) -> None:
    """Raise ValueError when crop and load sizes do not fit together."""
    if preprocess in ("resize_and_crop", "scale_width_and_crop") and crop_size > load_size:
        raise ValueError(f"crop_size ({crop_size}) must not exceed load_size ({load_size})")
    if preprocess != "none" and crop_size % size_multiple:
        raise ValueError(f"crop_size ({crop_size}) must be a multiple of size_multiple ({size_multiple})")


class PairedOptions(ServeOptions):
    """Options of ``paired_ab`` and ``paired_folders``."""

    root: str = Field(description="data folder holding one sub-folder per split (train, val, test)")
    load_size: int = Field(286, ge=1, description="resize to this before cropping")
    crop_size: int = Field(256, ge=1, description="crop (and eval) size")

    @model_validator(mode="after")
    def _sizes(self) -> "PairedOptions":
        check_sizes(self.preprocess, self.load_size, self.crop_size, self.size_multiple)
        return self


class ShapesOptions(ServeOptions):
    """Options of ``synthetic_shapes``: generation parameters plus how pairs are served."""

    root: str = Field("data/shapes", description="where the generated files go")
    seed: int = Field(0, ge=0, description="generation seed (same seed, same files)")
    count: int = Field(400, ge=1, description="pairs in the train split")
    val_count: int = Field(16, ge=1, description="pairs in the val split")
    test_count: int = Field(8, ge=0, description="plain A (edge) images in test_inputs/ for translate infer")
    image_size: int = Field(64, ge=16, le=1024, description="width and height of A and B")
    load_size: Optional[int] = Field(None, ge=1, description="default: image_size * 286 / 256")
    crop_size: Optional[int] = Field(None, ge=1, description="default: image_size")

    def resolved_sizes(self) -> tuple[int, int]:
        """(load_size, crop_size) with the defaults filled in."""
        crop = self.crop_size if self.crop_size is not None else self.image_size
        load = self.load_size if self.load_size is not None else max(crop, int(round(self.image_size * 286 / 256)))
        return load, crop

    @model_validator(mode="after")
    def _sizes(self) -> "ShapesOptions":
        load, crop = self.resolved_sizes()
        check_sizes(self.preprocess, load, crop, self.size_multiple)
        return self

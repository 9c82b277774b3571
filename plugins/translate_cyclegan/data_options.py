"""Options of the unpaired (CycleGAN) data sets (pydantic only: importing this module is cheap)."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from translate import Options

Channels = Literal[1, 3, 4]
PreprocessMode = Literal["resize_and_crop", "crop", "scale_width_and_crop", "resize", "none"]


def check_sizes(preprocess: str, load_size: int, crop_size: int, size_multiple: int) -> None:
    """Raise ValueError when crop and load sizes do not fit together."""
    if preprocess in ("resize_and_crop", "scale_width_and_crop") and crop_size > load_size:
        raise ValueError(f"crop_size ({crop_size}) must not exceed load_size ({load_size})")
    if preprocess != "none" and crop_size % size_multiple:
        raise ValueError(f"crop_size ({crop_size}) must be a multiple of size_multiple ({size_multiple})")


class UnpairedServeOptions(Options):
    """How unpaired images are served: channel counts, augmentation, pairing (shared by the unpaired sets)."""

    input_channels: Channels = Field(3, description="channels of the domain A images (1, 3 or 4)")
    output_channels: Channels = Field(3, description="channels of the domain B images (1, 3 or 4)")
    preprocess: PreprocessMode = Field(
        "resize_and_crop", description="training augmentation, see translate.augment (A and B each get their own)"
    )
    flip: bool = Field(True, description="random horizontal flip on the train split (independent for A and B)")
    max_items: Optional[int] = Field(
        None, ge=1, description="use only the first N images of each domain (sorted by name)"
    )
    serial_batches: bool = Field(
        False, description="pair A[i] with B[i % len(B)] instead of a random B (chosen from the item's seed)"
    )
    size_multiple: int = Field(1, ge=1, description="preprocess 'none': round sizes to a multiple of this")


class UnpairedOptions(UnpairedServeOptions):
    """Options of ``unpaired``: ``root/trainA``, ``root/trainB``, ``root/testA``, ``root/testB``."""

    root: str = Field(
        description="data folder with trainA/ and trainB/ (and testA/, testB/; valA/, valB/ optional)"
    )
    load_size: int = Field(286, ge=1, description="resize to this before cropping")
    crop_size: int = Field(256, ge=1, description="crop (and eval) size")

    @model_validator(mode="after")
    def _sizes(self) -> "UnpairedOptions":
        check_sizes(self.preprocess, self.load_size, self.crop_size, self.size_multiple)
        return self


class SyntheticUnpairedOptions(UnpairedServeOptions):
    """Options of ``synthetic_unpaired``: generation parameters plus how images are served."""

    root: str = Field("data/shapes_unpaired", description="where the generated files go")
    seed: int = Field(0, ge=0, description="generation seed (same seed, same files)")
    count_a: int = Field(300, ge=1, description="domain A ('day') images in trainA/")
    count_b: int = Field(300, ge=1, description="domain B ('night') images in trainB/")
    test_count: int = Field(8, ge=1, description="images in each of testA/ and testB/ (the val and test splits)")
    image_size: int = Field(64, ge=16, le=1024, description="width and height of the images")
    load_size: Optional[int] = Field(None, ge=1, description="default: image_size * 286 / 256")
    crop_size: Optional[int] = Field(None, ge=1, description="default: image_size")

    def resolved_sizes(self) -> tuple[int, int]:
        """(load_size, crop_size) with the defaults filled in."""
        crop = self.crop_size if self.crop_size is not None else self.image_size
        load = self.load_size if self.load_size is not None else max(crop, int(round(self.image_size * 286 / 256)))
        return load, crop

    @model_validator(mode="after")
    def _sizes(self) -> "SyntheticUnpairedOptions":
        load, crop = self.resolved_sizes()
        check_sizes(self.preprocess, load, crop, self.size_multiple)
        return self

"""Options of the unpaired (CycleGAN) data sets (pydantic only: importing this module is cheap)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from translate.api import AugmentOptions, Channels, FixedSizeOptions, GeneratedOptions, PreprocessMode

MAX_COUNT = 100_000
"""The most images a generated domain may hold (a sanity limit on time and disk)."""
MAX_TEST_COUNT = 10_000


class UnpairedServeOptions(AugmentOptions):
    """How unpaired images are served: channel counts, augmentation, pairing (shared by the unpaired sets).

    The fields of :class:`translate.data.options.AugmentOptions`, described for domains A and B.
    """

    input_channels: Channels = Field(3, description="channels of the domain A images: 1 grey, 3 RGB, 4 RGBA, or N up "
                                     "to 64 for N-channel TIFFs")
    output_channels: Channels = Field(3, description="channels of the domain B images (as input_channels)")
    preprocess: PreprocessMode = Field(
        "resize_and_crop", description="training augmentation, see translate.data.augment (A and B each get their own)"
    )
    flip: bool = Field(True, description="random horizontal flip on the train split (independent for A and B)")
    max_items: Optional[int] = Field(
        None, ge=1, le=100_000_000, description="use only the first N images of each domain (sorted by name)"
    )
    serial_batches: bool = Field(
        False, description="train split: pair A[i] with B[i % len(B)] instead of a random B (chosen from the "
        "item's seed); the other splits always pair serially"
    )


class UnpairedOptions(UnpairedServeOptions, FixedSizeOptions):
    """Options of ``unpaired``: ``root/trainA``, ``root/trainB``, ``root/testA``, ``root/testB``."""

    root: str = Field(
        description="data folder with trainA/ and trainB/ (and testA/, testB/; valA/, valB/ optional)"
    )


class SyntheticUnpairedOptions(UnpairedServeOptions, GeneratedOptions):
    """Options of ``synthetic_unpaired``: generation parameters plus how images are served."""

    root: str = Field("data/shapes_unpaired", description="where the generated files go")
    count_a: int = Field(300, ge=1, le=MAX_COUNT, description="domain A ('day') images in trainA/")
    count_b: int = Field(300, ge=1, le=MAX_COUNT, description="domain B ('night') images in trainB/")
    test_count: int = Field(8, ge=1, le=MAX_TEST_COUNT,
                            description="images in each of testA/ and testB/ (the val and test splits)")
    ground_truth: bool = Field(
        True, description="also render each test scene in the other domain (testA_night/, testB_day/), so that "
        "the val and test splits are aligned and PSNR/SSIM evaluate both directions; false: unpaired like `unpaired`")

"""Options of the built-in paired data sets (pydantic only: importing this module is cheap)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from translate.api import AugmentOptions, FixedSizeOptions, GeneratedOptions

MAX_COUNT = 100_000
"""The most images a generated split may hold (a sanity limit on time and disk)."""
MAX_EXTRA_COUNT = 10_000
"""The most images of the val and test splits of a generated set."""


class ServeOptions(AugmentOptions):
    """How pairs are served: direction, channel counts and augmentation (shared by all paired sets)."""

    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="AtoB: A is the input, B the target; BtoA swaps them")


class PairedOptions(ServeOptions, FixedSizeOptions):
    """Options of ``paired_ab`` and ``paired_folders``."""

    validation_rules = (
        "`crop_size` must not exceed `load_size` (`resize_and_crop`, `scale_width_and_crop`).",
        "`crop_size` must be a multiple of `size_multiple` (unless `preprocess = \"none\"`).",
    )

    root: str = Field(description="data folder holding one sub-folder per split (train, val, test)")


class ShapesOptions(ServeOptions, GeneratedOptions):
    """Options of ``synthetic_shapes``: generation parameters plus how pairs are served."""

    validation_rules = (
        "The same size rules as `paired_ab`, applied after the defaults of `load_size` and `crop_size`.",
    )

    root: str = Field("data/shapes", description="where the generated files go")
    count: int = Field(400, ge=1, le=MAX_COUNT, description="pairs in the train split")
    val_count: int = Field(16, ge=1, le=MAX_EXTRA_COUNT, description="pairs in the val split")
    test_count: int = Field(50, ge=0, le=MAX_EXTRA_COUNT,
                            description="pairs in the test split; their A halves are also written to test_inputs/ "
                            "for translate infer")
    image_size: int = Field(64, ge=16, le=1024, description="width and height of A and B")

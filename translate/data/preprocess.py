"""The preprocess modes of image data sets and the rule that their sizes fit together.

Shared by the options models (:mod:`translate.data.options`, checked when a recipe is
validated) and the augmentation itself (:mod:`translate.data.augment`, checked when it is built).
"""

from __future__ import annotations

from typing import Literal, get_args

PreprocessMode = Literal["resize_and_crop", "crop", "scale_width_and_crop", "resize", "none"]
PREPROCESS_MODES: tuple[str, ...] = get_args(PreprocessMode)


def check_sizes(preprocess: str, load_size: int, crop_size: int, size_multiple: int, *, train: bool = True) -> None:
    """Raise ValueError when ``preprocess`` is unknown or the crop and load sizes do not fit together.

    A random crop (``train``) of ``resize_and_crop`` and ``scale_width_and_crop`` needs
    ``crop_size <= load_size``; every mode but ``none`` needs ``crop_size`` to be a multiple of
    ``size_multiple``.
    """
    if preprocess not in PREPROCESS_MODES:
        raise ValueError(f"preprocess must be one of {', '.join(PREPROCESS_MODES)}; got {preprocess!r}")
    if min(load_size, crop_size, size_multiple) < 1:
        raise ValueError("load_size, crop_size and size_multiple must be positive")
    if train and preprocess in ("resize_and_crop", "scale_width_and_crop") and crop_size > load_size:
        raise ValueError(f"crop_size ({crop_size}) must not exceed load_size ({load_size})")
    if preprocess != "none" and crop_size % size_multiple:
        raise ValueError(f"crop_size ({crop_size}) must be a multiple of size_multiple ({size_multiple})")

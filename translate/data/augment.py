"""Paired augmentation: the same resize, crop and flip for an input and its target.

Built on albumentations with ``additional_targets={"target": "image"}`` and ``strict=True``
(a misspelt key is an error, never a silently un-augmented image). Input and target may have
different channel counts. When their sizes differ, the resizing modes (:data:`RESIZING_MODES`) resize
both to the size of their first resize step; ``crop`` and ``none`` refuse them. Images are image-space
``(H, W, C)`` float32 arrays in [0, 1], so 16-bit precision is kept.

Preprocess modes (as in the pix2pix reference code, ``train=True``):

- ``resize_and_crop``: resize to ``load_size`` x ``load_size``, random crop ``crop_size``;
- ``crop``: random crop ``crop_size`` (the image must be at least that large);
- ``scale_width_and_crop``: scale the width to ``load_size`` keeping the aspect ratio (height at
  least ``crop_size``), random crop ``crop_size``;
- ``resize``: resize to ``crop_size`` x ``crop_size``;
- ``none``: keep the size, rounded to a multiple of ``size_multiple`` (by resizing).

Then a random horizontal flip when ``flip``. With ``train=False`` (evaluation) nothing is
random: resize modes resize to ``crop_size``, ``crop`` takes the centre crop,
``scale_width_and_crop`` scales the width to ``crop_size`` and takes the centre crop, ``none``
is as above; no flip.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import DataError
from .preprocess import PREPROCESS_MODES, check_sizes
from .preprocess import PreprocessMode as Preprocess

_CACHE_LIMIT = 64
RESIZING_MODES: tuple[str, ...] = ("resize_and_crop", "resize", "scale_width_and_crop")
"""The modes that resize to the recipe's size: input and target of different sizes are both resized."""


class PairedAugment:
    """Seeded paired augmentation; see the module docstring for the modes.

    Example::

        aug = PairedAugment("resize_and_crop", load_size=72, crop_size=64)
        a, b = aug(photo, labels, seed=1234)   # same seed -> same crop and flip
    """

    def __init__(
        self,
        preprocess: Preprocess = "resize_and_crop",
        load_size: int = 286,
        crop_size: int = 256,
        flip: bool = True,
        size_multiple: int = 1,
        train: bool = True,
    ) -> None:
        check_sizes(preprocess, load_size, crop_size, size_multiple, train=train)
        self.preprocess = preprocess
        self.load_size, self.crop_size = load_size, crop_size
        self.flip, self.size_multiple, self.train = flip, size_multiple, train
        self._composes: dict[tuple[int, int], Any] = {}

    def __repr__(self) -> str:
        return (
            f"PairedAugment({self.preprocess!r}, load_size={self.load_size}, crop_size={self.crop_size}, "
            f"flip={self.flip}, size_multiple={self.size_multiple}, train={self.train})"
        )

    def __call__(self, input: np.ndarray, target: np.ndarray, seed: int, name: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Augment one pair. The same ``seed`` always gives the same geometry.

        Raises:
            DataError: input and target differ in size with ``crop`` or ``none`` (the message
                says which option to set), or the image is too small for ``crop``; the message
                names the item.
        """
        input, target = _hwc(input), _hwc(target)
        label = f"item {name!r}" if name else "item"
        if input.shape[:2] != target.shape[:2]:
            input, target = self._resize_both(input, target, label)
        h, w = input.shape[:2]
        if self.preprocess == "crop" and (h < self.crop_size or w < self.crop_size):
            raise DataError(
                f"{label}: image is {w}x{h}, smaller than crop_size {self.crop_size}; "
                "use preprocess 'resize_and_crop' or a smaller crop_size"
            )
        compose = self._compose_for(h, w)
        if compose is None:
            return input.copy(), target.copy()
        compose.set_random_seed(int(seed) & (2**63 - 1))
        out = compose(image=input, target=target)
        a, b = _hwc(out["image"]), _hwc(out["target"])
        _check_sizes(a, b, label, " after augmentation")
        return np.clip(a, 0.0, 1.0), np.clip(b, 0.0, 1.0)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(height, width)`` this augmentation produces for an input of the given size."""
        if self.preprocess == "none":
            return _round_to(height, self.size_multiple), _round_to(width, self.size_multiple)
        return self.crop_size, self.crop_size

    def _resize_both(self, input: np.ndarray, target: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
        """Input and target of different sizes: resize both to the size the first resize step makes
        (the resizing modes), so the rest of the augmentation sees one size; else a DataError."""
        if self.preprocess not in RESIZING_MODES:
            _check_sizes(input, target, label, "", hint=(
                f" with preprocess {self.preprocess!r}; set data.options.preprocess = \"resize_and_crop\" "
                "(or \"resize\") to resize both to the recipe's size, or give the files the same size"))
        size = self._first_resize(*input.shape[:2])
        return _resize(input, size), _resize(target, size)

    def _first_resize(self, h: int, w: int) -> tuple[int, int]:
        """``(height, width)`` of the first resize step of a resizing mode, for an ``h`` x ``w`` input."""
        if self.preprocess == "scale_width_and_crop":
            width = self.load_size if self.train else self.crop_size
            return max(int(round(width * h / w)), self.crop_size), width
        side = self.load_size if self.preprocess == "resize_and_crop" and self.train else self.crop_size
        return side, side

    def _compose_for(self, h: int, w: int) -> Any:
        key = (h, w)
        if key not in self._composes:
            if len(self._composes) >= _CACHE_LIMIT:
                self._composes.clear()
            self._composes[key] = self._build(h, w)
        return self._composes[key]

    def _build(self, h: int, w: int) -> Any:
        import albumentations as A

        crop = self.crop_size
        mode, train = self.preprocess, self.train
        steps: list[Any] = []
        if mode in RESIZING_MODES:
            steps = [_resizer(*self._first_resize(h, w))]
            if mode != "resize" and (train or mode == "scale_width_and_crop"):
                steps.append(A.RandomCrop(crop, crop) if train else A.CenterCrop(crop, crop))
        elif mode == "crop":
            steps = [A.RandomCrop(crop, crop) if train else A.CenterCrop(crop, crop)]
        else:  # none
            size = self.output_size(h, w)
            steps = [_resizer(*size)] if size != (h, w) else []
        if train and self.flip:
            steps.append(A.HorizontalFlip(p=0.5))
        if not steps:
            return None
        return A.Compose(steps, additional_targets={"target": "image"}, strict=True, seed=0)


def _resizer(height: int, width: int) -> Any:
    """The resize step of every mode: bicubic, area averaging when shrinking."""
    import albumentations as A
    import cv2

    return A.Resize(height, width, interpolation=cv2.INTER_CUBIC, area_for_downscale="image")


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == size:
        return image
    return _hwc(_resizer(*size)(image=image)["image"])


def _round_to(n: int, multiple: int) -> int:
    """``n`` rounded to the nearest multiple, halves up (at least one multiple)."""
    return max(multiple, int(n / multiple + 0.5) * multiple)


def _hwc(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected an (H, W, C) image, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _check_sizes(a: np.ndarray, b: np.ndarray, label: str, when: str, hint: str = "") -> None:
    if a.shape[:2] != b.shape[:2]:
        raise DataError(
            f"{label}: input is {a.shape[1]}x{a.shape[0]} but target is {b.shape[1]}x{b.shape[0]}{when}; "
            f"paired images must have the same width and height{hint}"
        )


__all__ = ["PairedAugment", "PREPROCESS_MODES", "Preprocess"]

"""Options building blocks for image data sets (pydantic only: importing this module is cheap).

A data set plugin that serves images through :class:`translate.data.augment.PairedAugment`
subclasses one of these for its options model, adds its own fields (``root``, generation
parameters, ...) and, where its wording differs, redeclares a field with its own
description::

    class MyOptions(FixedSizeOptions):
        root: str = Field(description="data folder")

    dataset = MyDataset(options.augment(split), ...)

- :class:`AugmentOptions`: channel counts, ``preprocess``, ``flip``, ``max_items``,
  ``size_multiple``, ``device_augment`` (a :class:`DeviceAugmentOptions` table: kornia batch
  augmentation on the device, applied by the engine), and the check that the sizes fit together (abstract: the sizes come
  from a subclass);
- :class:`FixedSizeOptions`: plus ``load_size`` (286) and ``crop_size`` (256), for image
  folders;
- :class:`GeneratedOptions`: plus ``seed``, ``image_size`` and ``load_size``/``crop_size``
  defaulting from ``image_size``, for sets generated on first use (see
  :mod:`translate.data.generated`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Annotated, Literal, Optional, Self

from pydantic import Field, model_validator

from ..plugin.options import Options
from .preprocess import PREPROCESS_MODES, PreprocessMode, check_sizes

if TYPE_CHECKING:
    from .augment import PairedAugment

MAX_CHANNELS = 64
"""The most channels an image may have (as :data:`translate.data.imageio.MAX_CHANNELS`; a model file's limit)."""
Channels = Annotated[int, Field(ge=1, le=MAX_CHANNELS)]
"""A channel count: 1 (grey), 3 (RGB), 4 (RGBA), 2 (grey + alpha), or up to 64 channels of an N-channel TIFF."""
BitDepth = Literal[8, 16]

MAX_IMAGE_SIDE = 8192
"""The largest ``load_size`` and ``crop_size`` (a sanity limit: one 8192 x 8192 RGB image is 768 MiB as float32)."""
MAX_SIZE_MULTIPLE = 1024
MAX_ITEMS = 100_000_000
MAX_SEED = 2**32 - 1


class DeviceAugmentOptions(Options):
    """Batch augmentation on the training device (kornia), after the batch is moved there
    (see :mod:`translate.data.device_augment`). Every image of an item gets the same parameters;
    every item of a batch its own."""

    validation_rules = (
        "`crop_scale` is two numbers `[min, max]` with 0 < min <= max <= 1.",
        "Colour jitter (`brightness`, `contrast`, `saturation`, `hue` above 0) needs the input and the target "
        "to have the same channel count (3, or 1 without `saturation` and `hue`): it is applied to both alike, "
        "so turn it on only when both are photos of the same kind.",
    )

    flip: bool = Field(True, description="random horizontal flip (probability 0.5)")
    vflip: bool = Field(False, description="random vertical flip (probability 0.5)")
    crop_scale: Optional[list[float]] = Field(
        None, description="random square crop covering [min, max] of the image area, resized back to the "
        "batch's size (bilinear); not set: no crop")
    brightness: float = Field(0.0, ge=0, le=1, description="colour jitter: brightness factor in [1 - x, 1 + x]")
    contrast: float = Field(0.0, ge=0, le=1, description="colour jitter: contrast factor in [1 - x, 1 + x]")
    saturation: float = Field(0.0, ge=0, le=1, description="colour jitter: saturation factor in [1 - x, 1 + x]")
    hue: float = Field(0.0, ge=0, le=0.5, description="colour jitter: hue shift in [-x, x] turns")

    def jitter(self) -> bool:
        """Whether colour jitter is on."""
        return any(v > 0 for v in (self.brightness, self.contrast, self.saturation, self.hue))

    @model_validator(mode="after")
    def _check_crop(self) -> Self:
        scale = self.crop_scale
        if scale is not None and not (len(scale) == 2 and 0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"crop_scale must be [min, max] with 0 < min <= max <= 1, got {scale}")
        return self


class AugmentOptions(Options):
    """How images are served: channel counts and augmentation (see :mod:`translate.data.augment`).

    Abstract: subclass :class:`FixedSizeOptions` or :class:`GeneratedOptions`, or implement
    :meth:`resolved_sizes` yourself. Validation checks the sizes with :func:`check_sizes`.
    """

    input_channels: Channels = Field(3, description="channels of the input image: 1 grey, 3 RGB, 4 RGBA (files of "
                                     "1 to 4 channels are converted), or N up to 64 for N-channel TIFFs (taken as "
                                     "they are)")
    output_channels: Channels = Field(3, description="channels of the target image (as input_channels)")
    bit_depth: BitDepth = Field(8, description="bit depth of the images a model trained on this data writes (8, or 16 "
                                "for 16-bit PNG/TIFF); files are read at their own depth either way. See docs/data.md")
    preprocess: PreprocessMode = Field("resize_and_crop", description="training augmentation, see translate.data.augment")
    flip: bool = Field(True, description="random horizontal flip on the train split")
    max_items: Optional[int] = Field(None, ge=1, le=MAX_ITEMS, description="use only the first N pairs (sorted by name)")
    size_multiple: int = Field(1, ge=1, le=MAX_SIZE_MULTIPLE,
                               description="preprocess 'none': round sizes to a multiple of this")
    device_augment: Optional[DeviceAugmentOptions] = Field(
        None, description="batch augmentation on the training device with kornia (a table: flip, vflip, crop_scale, "
        "brightness, contrast, saturation, hue), after this CPU augmentation; not set: none. See "
        "docs/device_augment.md")

    @abstractmethod
    def resolved_sizes(self) -> tuple[int, int]:
        """``(load_size, crop_size)`` to augment with, defaults filled in."""

    def training_size(self) -> int | None:
        """The side of the square training crops; None with ``preprocess = "none"`` (images keep their sizes)."""
        return None if self.preprocess == "none" else self.resolved_sizes()[1]

    def augment(self, split: str) -> PairedAugment:
        """The augmentation of ``split``: random for ``"train"``, deterministic otherwise."""
        from .augment import PairedAugment

        load_size, crop_size = self.resolved_sizes()
        return PairedAugment(
            self.preprocess,
            load_size=load_size,
            crop_size=crop_size,
            flip=self.flip,
            size_multiple=self.size_multiple,
            train=split == "train",
        )

    @model_validator(mode="after")
    def _check_sizes(self) -> Self:
        load_size, crop_size = self.resolved_sizes()
        check_sizes(self.preprocess, load_size, crop_size, self.size_multiple)
        return self

    @model_validator(mode="after")
    def _check_device_jitter(self) -> Self:
        device = self.device_augment
        if device is not None and device.jitter() and self.input_channels != self.output_channels:
            raise ValueError(
                f"device_augment: colour jitter changes the input and the target alike, so they must be images of "
                f"the same kind, but input_channels is {self.input_channels} and output_channels "
                f"{self.output_channels}: set brightness, contrast, saturation and hue to 0")
        if device is not None and device.jitter() and self.input_channels not in (1, 3):
            raise ValueError(
                f"device_augment: colour jitter is defined on grey (1 channel) and RGB (3 channels) images, but the "
                f"images have {self.input_channels} channels (RGBA, or the bands of N-channel data, whose ratios "
                "carry meaning): set brightness, contrast, saturation and hue to 0")
        return self


class FixedSizeOptions(AugmentOptions):
    """:class:`AugmentOptions` with ``load_size`` and ``crop_size`` fields (286 and 256, as pix2pix)."""

    load_size: int = Field(286, ge=1, le=MAX_IMAGE_SIDE, description="resize to this before cropping")
    crop_size: int = Field(256, ge=1, le=MAX_IMAGE_SIDE, description="crop (and eval) size")

    def resolved_sizes(self) -> tuple[int, int]:
        return self.load_size, self.crop_size


class GeneratedOptions(AugmentOptions):
    """:class:`AugmentOptions` of a set generated from a seed: ``seed``, ``image_size``, and
    ``load_size``/``crop_size`` that default to ``image_size * 286 / 256`` and ``image_size``."""

    seed: int = Field(0, ge=0, le=MAX_SEED, description="generation seed (same seed, same files)")
    image_size: int = Field(64, ge=16, le=1024, description="width and height of the images")
    load_size: Optional[int] = Field(None, ge=1, le=MAX_IMAGE_SIDE, description="default: image_size * 286 / 256")
    crop_size: Optional[int] = Field(None, ge=1, le=MAX_IMAGE_SIDE, description="default: image_size")

    def resolved_sizes(self) -> tuple[int, int]:
        """(load_size, crop_size) with the defaults filled in."""
        crop = self.crop_size if self.crop_size is not None else self.image_size
        load = self.load_size if self.load_size is not None else max(crop, int(round(self.image_size * 286 / 256)))
        return load, crop


__all__ = [
    "AugmentOptions",
    "BitDepth",
    "MAX_CHANNELS",
    "DeviceAugmentOptions",
    "Channels",
    "FixedSizeOptions",
    "GeneratedOptions",
    "PREPROCESS_MODES",
    "PreprocessMode",
    "check_sizes",
]

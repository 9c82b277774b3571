"""Batch augmentation on the training device (kornia), from a data set's ``device_augment`` options.

The CPU path (:mod:`translate.data.augment`, albumentations, per item in the DataLoader workers) stays
the default. A recipe whose data options subclass :class:`~translate.data.options.AugmentOptions`
may add a ``[data.options.device_augment]`` table (:class:`~translate.data.options.DeviceAugmentOptions`);
the engine then applies this module's :class:`DeviceAugment` to every training batch after it
is on the device (never to sample grids nor evaluation):

- random resized square crop (``crop_scale``, back to the batch's size, bilinear), horizontal
  flip, vertical flip, colour jitter (brightness, contrast, saturation, hue), in that order,
  through one ``kornia.augmentation.AugmentationSequential`` with ``same_on_batch=False``:
- every image of an item (``input`` and ``target``, or ``A`` and ``B``: the data set's
  ``channels`` keys) gets the same parameters; each item of the batch its own;
- colour jitter changes both images alike, so it is refused unless they have the same channel
  count (3, or 1 without saturation and hue); it is meant for pairs of photos of the same kind
  (a label map or an edge drawing would change meaning under it);
- the parameters are drawn from a seed made of the run seed, the process, the epoch and the
  batch's position in it, inside a forked RNG: the same run draws the same parameters (a resumed
  run too), and the global RNG that dropout uses is untouched.

Images are in [-1, 1]; kornia sees them in [0, 1] and the result is mapped back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..errors import DataError, RecipeError
from .contract import item_seed
from .options import AugmentOptions, DeviceAugmentOptions

_CACHE_LIMIT = 16
"""Pipelines kept per batch size (height, width); a crop is built for one size."""
_FIELD = "data.options.device_augment"


class DeviceAugment:
    """Augments the image keys of a batch alike, per item (see the module docstring).

    Example::

        augment = DeviceAugment(DeviceAugmentOptions(crop_scale=[0.7, 1.0]), {"input": 3, "target": 3}, seed=0)
        batch = augment(batch, epoch=0, index=5)   # same (seed, epoch, index): same parameters
    """

    def __init__(self, options: DeviceAugmentOptions, channels: Mapping[str, int], *, seed: int, rank: int = 0,
                 source: str = "<recipe>") -> None:
        self.options, self.keys = options, tuple(channels)
        self.seed, self.rank = int(seed), int(rank)
        if options.jitter():
            _check_jitter(options, channels, source)
        self._pipelines: dict[tuple[int, int], Any] = {}

    def __repr__(self) -> str:
        return f"DeviceAugment({self.options!r}, keys={self.keys})"

    def batch_seed(self, epoch: int, index: int) -> int:
        """The seed of the parameters of batch ``index`` of ``epoch`` on this process."""
        return item_seed(self.seed, epoch, index * 65_536 + self.rank)

    def __call__(self, batch: dict[str, Any], epoch: int, index: int) -> dict[str, Any]:
        """``batch`` with its image keys augmented (a new dict; other entries are kept as they are)."""
        images = [batch[k] for k in self.keys]
        h, w = images[0].shape[-2:]
        sizes = {k: tuple(x.shape[-2:]) for k, x in zip(self.keys, images)}
        if len(set(sizes.values())) > 1:
            raise DataError(f"{_FIELD}: the images of an item must have one size to share a crop and flip, but the "
                            f"batch has {', '.join(f'{k} {s[1]}x{s[0]}' for k, s in sizes.items())}")
        pipeline = self._pipeline(int(h), int(w))
        if pipeline is None:
            return batch
        device = images[0].device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.default_generator.manual_seed(self.batch_seed(epoch, index))
            with torch.no_grad():
                out = pipeline(*[(x.float() + 1) / 2 for x in images])
        if len(images) == 1:
            out = [out]
        augmented = {k: (y * 2 - 1).clamp(-1, 1).to(x.dtype) for k, x, y in zip(self.keys, images, out)}
        return {**batch, **augmented}

    def _pipeline(self, h: int, w: int) -> Any:
        if (h, w) not in self._pipelines:
            if len(self._pipelines) >= _CACHE_LIMIT:
                self._pipelines.clear()
            self._pipelines[(h, w)] = build_pipeline(self.options, (h, w), len(self.keys))
        return self._pipelines[(h, w)]


def build_pipeline(options: DeviceAugmentOptions, size: tuple[int, int], n_images: int) -> Any:
    """The kornia ``AugmentationSequential`` for images of ``size``; None when the options ask for nothing."""
    import kornia.augmentation as K

    steps: list[Any] = []
    if options.crop_scale is not None:
        steps.append(K.RandomResizedCrop(size, scale=tuple(options.crop_scale), ratio=(1.0, 1.0)))
    if options.flip:
        steps.append(K.RandomHorizontalFlip(p=0.5))
    if options.vflip:
        steps.append(K.RandomVerticalFlip(p=0.5))
    if options.jitter():
        steps.append(K.ColorJitter(options.brightness, options.contrast, options.saturation, options.hue, p=1.0))
    if not steps:
        return None
    return K.AugmentationSequential(*steps, data_keys=["input"] * n_images, same_on_batch=False)


def _check_jitter(options: DeviceAugmentOptions, channels: Mapping[str, int], source: str) -> None:
    counts = set(channels.values())
    listed = ", ".join(f"{k} {c}" for k, c in channels.items())
    if len(counts) != 1:
        raise RecipeError(source, [
            f"{_FIELD}: colour jitter is applied to every image of an item alike, so they must be images of the "
            f"same kind; this data set serves {listed} channels: set brightness, contrast, saturation and hue to 0"])
    (count,) = counts
    if count == 1 and (options.saturation > 0 or options.hue > 0):
        raise RecipeError(source, [f"{_FIELD}: saturation and hue need colour images; this data set serves 1-channel "
                                   "images: use brightness and contrast only"])
    if count not in (1, 3):
        raise RecipeError(source, [f"{_FIELD}: colour jitter needs 1- or 3-channel images; this data set serves "
                                   f"{listed} channels"])


class _Unchanged:
    """No device augmentation: the batch as it is."""

    def __call__(self, batch: dict[str, Any], epoch: int, index: int) -> dict[str, Any]:
        return batch


def device_augmentation(data_options: Any, channels: Mapping[str, int], *, seed: int, rank: int = 0,
                        source: str = "<recipe>") -> DeviceAugment | _Unchanged:
    """The device augmentation that ``data_options`` (a data set's validated options) asks for.

    Only :class:`AugmentOptions` have the ``device_augment`` field; any other options, or the field
    unset, give a callable that returns batches unchanged. Raises RecipeError for colour jitter on
    images of different kinds.
    """
    options = data_options.device_augment if isinstance(data_options, AugmentOptions) else None
    if options is None:
        return _Unchanged()
    return DeviceAugment(options, channels, seed=seed, rank=rank, source=source)


__all__ = ["DeviceAugment", "build_pipeline", "device_augmentation"]

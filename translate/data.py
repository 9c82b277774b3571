"""The data-set contract shared by the engine and dataset plugins.

A dataset factory returns a ``torch.utils.data.Dataset`` with:

- ``channels``: ``dict[str, int]``, the image keys an item holds and their channel
  counts (paired data: ``{"input": 3, "target": 3}``; unpaired: ``{"A": 3, "B": 3}``);
- ``__len__``;
- ``__getitem__(key)``, where ``key`` is ``(index, seed)``: ``seed`` is an int that
  drives every random choice for this item (crop, flip, random pairing), so the
  same key always gives the same item, whatever the worker or a resume. A plain
  int key means ``(key, key)``.

Items are dicts of float32 ``(C, H, W)`` tensors in [-1, 1] under the ``channels``
keys, plus ``"name"`` (a string, for sample grids and logs).

A data set may also describe itself with an ``info`` attribute, a :class:`DataInfo`: what the
engine, the methods and the model files need to know about the data (training image size,
direction, folder name, limitations) is asked through it, never read from the data set's
options by key. :func:`data_info` returns it, or the defaults when a data set has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SampleKey = tuple[int, int]


@dataclass(frozen=True)
class DataInfo:
    """What a data set tells the engine about itself (every field optional).

    - ``image_size``: the side of the square training crops, when fixed (recorded in model
      files as the recommended input size); None when images keep their own sizes.
    - ``direction``: which way the data is read, ``"AtoB"`` or ``"BtoA"`` (for a paired set:
      which side is the input); methods export their generators under it.
    - ``folder``: a short name of where the data came from (the data folder's last part), for
      model cards.
    - ``limitations``: known limits of models trained on this data, added to model cards
      (for example "generated data: a demonstration model").
    """

    image_size: int | None = None
    direction: str = "AtoB"
    folder: str | None = None
    limitations: tuple[str, ...] = ()


def data_info(dataset: Any) -> DataInfo:
    """``dataset.info`` when the data set has one, else the defaults."""
    info = getattr(dataset, "info", None)
    return info if isinstance(info, DataInfo) else DataInfo()


def split_key(key: Any) -> SampleKey:
    """Normalise a dataset key to ``(index, seed)``."""
    if isinstance(key, tuple):
        index, seed = key
        return int(index), int(seed)
    return int(key), int(key)


def resolve_key(key: Any, length: int) -> SampleKey:
    """:func:`split_key`, then check the index against ``length`` items (negative counts from the end).

    Raises:
        IndexError: the index is out of range.
    """
    index, seed = split_key(key)
    if index < 0:
        index += length
    if not 0 <= index < length:
        raise IndexError(f"index {index} out of range for {length} items")
    return index, seed


def item_seed(seed: int, epoch: int, position: int) -> int:
    """A 63-bit seed for one item, derived from the run seed, epoch and position in the epoch."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + position * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) & (2**64 - 1)
    x ^= x >> 32
    return x & (2**63 - 1)

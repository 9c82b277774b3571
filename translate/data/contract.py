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

An item whose files cannot be read (a :class:`~translate.errors.DataError` from
``__getitem__``) is handled by :func:`guard_bad_files` under the recipe's ``data.on_bad_file``
policy, the same way in the main process and in DataLoader workers.
"""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import DataError

SampleKey = tuple[int, int]
BadFilePolicy = Literal["stop", "skip"]
MAX_REPLACEMENT_TRIES = 64
"""``skip``: how many following items are tried in place of an unreadable one before giving up."""


@dataclass(frozen=True)
class DataInfo:
    """What a data set tells the engine about itself (every field optional).

    - ``image_size``: the side of the square training crops, when fixed; None when images keep
      their own sizes. It is the side of the *targets* (the high-resolution side): for same-size
      translation inputs and targets share it, a super-resolution set serving 16x16 inputs with
      64x64 targets says ``image_size=64, scale=4``.
    - ``scale``: how many times larger than its input each target is (1: same size); a positive
      int that divides ``image_size``. :attr:`input_size` (``image_size // scale``) is the side the
      generators read, recorded in model files as the recommended input size. The engine refuses a
      generator whose ``scale_factor`` (:mod:`translate.nn.traits`) is not ``scale``.
    - ``direction``: which way the data is read, ``"AtoB"`` or ``"BtoA"`` (for a paired set:
      which side is the input); methods export their generators under it.
    - ``folder``: a short name of where the data came from (the data folder's last part), for
      model cards.
    - ``limitations``: known limits of models trained on this data, added to model cards
      (for example "generated data: a demonstration model").
    - ``translations``: ``(direction, input key, target key)`` triples: for a generator exported
      under ``direction``, which item key holds its input and which the real images of its output
      domain (paired: ``(("AtoB", "input", "target"),)``; unpaired: both directions). Evaluation
      uses them; a data set without them cannot be evaluated.
    - ``aligned``: whether each target is the ground truth of its input (paired data), which
      full-reference metrics (PSNR, SSIM, ...) need.
    - ``file_formats``: ``(image key, file suffix, count)`` triples: how the images of each key are
      stored on disk (``("A", ".jpg", 120)``), recorded in evaluation protocols (JPEG and PNG copies
      of one set give different FIDs).
    - ``domains``: the names of domains A and B (``("edges", "shapes")``, ``("day", "night")``), when the
      data set knows them: a model trained on it records them as its generators' input and output
      domains (in place of the letters ``A`` and ``B`` a method exports), for model cards and ``translate
      infer``'s summary; ``()`` when unknown.
    - ``bit_depth``: 8 or 16, the bit depth of the data's images (the data set's ``bit_depth`` option): a
      model trained on it records it, and ``translate infer`` writes its outputs at it (16-bit PNG or TIFF).
    """

    image_size: int | None = None
    direction: str = "AtoB"
    folder: str | None = None
    limitations: tuple[str, ...] = ()
    translations: tuple[tuple[str, str, str], ...] = ()
    aligned: bool = False
    scale: int = 1
    file_formats: tuple[tuple[str, str, int], ...] = ()
    domains: tuple[str, ...] = ()
    bit_depth: int = 8

    def __post_init__(self) -> None:
        if self.bit_depth not in (8, 16) or isinstance(self.bit_depth, bool):
            raise ValueError(f"DataInfo.bit_depth must be 8 or 16, got {self.bit_depth!r}")
        if self.domains and (len(self.domains) != 2 or not all(isinstance(d, str) and d.strip() for d in self.domains)):
            raise ValueError(f"DataInfo.domains must name domains A and B (two non-empty strings), got {self.domains!r}")
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1:
            raise ValueError(f"DataInfo.scale must be a positive int, got {self.scale!r}")
        if self.image_size is not None and self.image_size % self.scale:
            raise ValueError(f"DataInfo.image_size {self.image_size} (the target side) is not a multiple of "
                             f"DataInfo.scale {self.scale}")

    @property
    def input_size(self) -> int | None:
        """The side of the input crops, ``image_size // scale`` (None when sizes are not fixed)."""
        return None if self.image_size is None else self.image_size // self.scale

    def domain_name(self, letter: str) -> str:
        """The name of domain ``"A"`` or ``"B"`` (:attr:`domains`), else ``letter`` itself."""
        return self.domains["AB".index(letter)] if self.domains and letter in ("A", "B") else letter

    def keys_for(self, direction: str) -> tuple[str, str] | None:
        """``(input key, target key)`` for a generator exported under ``direction``; None if unknown."""
        for d, source, target in self.translations:
            if d == direction:
                return source, target
        return None


def file_formats(files: dict[str, list[Any]]) -> tuple[tuple[str, str, int], ...]:
    """``(key, suffix, count)`` for the files of each image key (suffixes lower-cased), for ``DataInfo.file_formats``."""
    from collections import Counter
    from pathlib import PurePath

    return tuple((key, suffix, n) for key, paths in files.items()
                 for suffix, n in sorted(Counter(PurePath(str(p)).suffix.lower() for p in paths).items()))


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


class BadDataFile(DataError):
    """An item's file could not be read. The message is one line naming the file, also when the error
    is re-raised from a DataLoader worker (PyTorch then rebuilds it from the worker's formatted
    traceback: the original message is taken back out of it)."""

    def __init__(self, message: str) -> None:
        super().__init__(_original_message(str(message), type(self)))


def _original_message(message: str, cls: type) -> str:
    """The message a worker's exception had, from PyTorch's "Caught X in DataLoader worker" text."""
    if not message.startswith(f"Caught {cls.__name__} ") or "Original Traceback" not in message:
        return message
    marker = f"{cls.__module__}.{cls.__qualname__}: "
    at = message.rfind("\n" + marker)
    return message[at + 1 + len(marker):].strip() if at >= 0 else message


class BadFileGuard:
    """A data set under a ``data.on_bad_file`` policy (see :func:`guard_bad_files`).

    Everything but item access is the wrapped data set's (``channels``, ``info``, ``names``, ...).
    ``skipped`` counts the items skipped so far by this guard and its DataLoader workers together.
    """

    def __init__(self, dataset: Any, policy: BadFilePolicy = "stop") -> None:
        if policy not in ("stop", "skip"):
            raise ValueError(f"on_bad_file must be 'stop' or 'skip', got {policy!r}")
        self.dataset, self.policy = dataset, policy
        self._skipped = multiprocessing.get_context().Value("q", 0)  # shared with the workers
        self._reported: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("dataset", "policy", "_skipped", "_reported"):
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def skipped(self) -> int:
        """Items replaced so far (one unreadable file counts each time it is met)."""
        return int(self._skipped.value)

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.dataset[key]
        except DataError as err:
            error = err
        if self.policy == "stop":
            raise BadDataFile(f'{error} (set data.on_bad_file = \"skip\" to skip unreadable files)') from None
        length = len(self)
        index, seed = resolve_key(key, length)
        for step in range(1, min(length, MAX_REPLACEMENT_TRIES + 1)):
            self._note(error)
            try:
                return self.dataset[((index + step) % length, seed)]
            except DataError as err:
                error = err
        self._note(error)
        raise BadDataFile(
            f"data.on_bad_file = \"skip\": item {index} and the {min(length, MAX_REPLACEMENT_TRIES + 1) - 1} "
            f"items after it cannot be loaded; the last error: {error}"
        )

    def _note(self, error: DataError) -> None:
        with self._skipped.get_lock():
            self._skipped.value += 1
            total = self._skipped.value
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if text not in self._reported:
            self._reported.add(text)
            print(f"warning: skipped a data item ({total} so far): {text}", file=sys.stderr, flush=True)


def guard_bad_files(dataset: Any, policy: BadFilePolicy = "stop") -> BadFileGuard:
    """``dataset`` under the ``data.on_bad_file`` policy, for the engine to load from.

    - ``"stop"``: an item that raises :class:`~translate.errors.DataError` raises
      :class:`BadDataFile` with the same one-line message (naming the file), with or without
      DataLoader workers;
    - ``"skip"``: the item is replaced by the next loadable one (index + 1, + 2, ... with the
      same seed: the same replacement on every run and in every worker); each skip is counted
      in ``skipped`` and the first of each distinct error is printed as a warning line.
    """
    return BadFileGuard(dataset.dataset if isinstance(dataset, BadFileGuard) else dataset, policy)

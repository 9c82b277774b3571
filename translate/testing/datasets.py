"""``check_dataset``: a data set built from its options and read the way the engine and ``translate eval`` read it
(part of :mod:`translate.testing`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data.contract import DataInfo, item_seed
from ..errors import DataError, PluginError
from ..plugin.registry import Component, OptionsInvalid, Registry
from .losses import component_of

DIRECTIONS = ("AtoB", "BtoA")


def check_dataset(source: Registry | Component, name: str | None = None, *, options: dict[str, Any] | None = None,
                  folder: str | Path | None = None, split: str = "train", paired: bool | None = None,
                  evaluable: bool = True, items: int = 2) -> Any:
    """Build a data set for ``split`` and check what the engine and ``translate eval`` read from it.

    ``options`` default to the component's ``smoke_options``; ``folder`` sets the option the data
    set registered as its ``folder_option`` (a folder of test images the test made). Checks, with
    ``AssertionError`` messages naming the data set:

    - ``channels`` is a non-empty ``dict[str, int]`` of positive counts, ``len()`` is at least 1;
    - the first ``items`` items (keys ``(index, seed)`` with 63-bit seeds, as in training) are dicts
      holding, for every ``channels`` key, a float32 ``(C, H, W)`` tensor with that many channels and
      finite values in [-1, 1], and a string ``"name"``; the same key gives the same item, a plain
      int ``k`` is ``(k, k)``, and an index past the end raises ``IndexError``;
    - ``info`` is a :class:`translate.DataInfo`: ``direction`` is ``AtoB`` or ``BtoA``; every
      ``translations`` triple names a direction and two ``channels`` keys, and ``direction`` is one
      of them (with ``evaluable=True``, the default, a data set without ``translations`` fails:
      ``translate eval`` cannot evaluate it); ``paired`` (when given) must equal ``aligned``;
      ``file_formats`` name ``channels`` keys, suffixes and counts; on the ``train`` split with a
      fixed ``image_size``, target images are ``image_size`` square and inputs ``image_size // scale``,
      and two items collate into a batch.

    Returns the data set.
    """
    comp = component_of(source, "dataset", name)
    where = f"data set {comp.name!r}"
    values = dict(comp.smoke_options if options is None else options)
    if folder is not None:
        if comp.folder_option is None:
            raise AssertionError(f"{where}: folder= given, but the data set registered no folder_option "
                                 "(register(..., folder_option=\"root\") names the option that holds its folder)")
        values[comp.folder_option] = str(folder)
    try:
        dataset = comp.build(values, split=split, path="data.options")
    except (OptionsInvalid, PluginError) as err:
        raise AssertionError(f"{where}: options {values!r} rejected: {err}") from None
    except DataError as err:
        raise AssertionError(f"{where}: building the {split!r} split failed: {err}") from None
    channels = _channels(dataset, where)
    length = _length(dataset, where)
    info = _info(dataset, channels, where, paired=paired, evaluable=evaluable)
    keys = [(i, item_seed(0, 0, i)) for i in range(min(items, length))]  # 63-bit seeds, as the engine's sampler
    read = [_item(dataset, key, channels, where) for key in keys]
    _same_key_same_item(dataset, keys[0], read[0], where)
    _plain_int_key(dataset, where)
    _index_past_the_end(dataset, length, where)
    if split == "train" and info.image_size is not None:
        _training_sizes(read, info, where)
        if len(read) > 1:
            _collates(read, where)
    return dataset


def _channels(dataset: Any, where: str) -> dict[str, int]:
    channels = getattr(dataset, "channels", None)
    if not isinstance(channels, dict) or not channels:
        raise AssertionError(f"{where}: `channels` must be a non-empty dict of image key -> channel count "
                             f"(e.g. {{'input': 3, 'target': 3}}), got {channels!r}")
    for key, count in channels.items():
        if not isinstance(key, str) or isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise AssertionError(f"{where}: channels[{key!r}] = {count!r}; expected a string key and a positive int")
    return channels


def _length(dataset: Any, where: str) -> int:
    try:
        length = len(dataset)
    except TypeError:
        raise AssertionError(f"{where}: the data set has no len()") from None
    if length < 1:
        raise AssertionError(f"{where}: the split has no items (len() is {length}); give the check a split with data")
    return length


def _info(dataset: Any, channels: dict[str, int], where: str, *, paired: bool | None, evaluable: bool) -> DataInfo:
    info = getattr(dataset, "info", None)
    if not isinstance(info, DataInfo):
        raise AssertionError(f"{where}: `info` must be a translate.DataInfo (got {type(info).__name__}); without it "
                             "the engine uses the defaults and `translate eval` cannot evaluate the data set")
    if info.direction not in DIRECTIONS:
        raise AssertionError(f"{where}: DataInfo.direction {info.direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not isinstance(info.limitations, tuple) or not all(isinstance(x, str) for x in info.limitations):
        raise AssertionError(f"{where}: DataInfo.limitations must be a tuple of strings, got {info.limitations!r}")
    if info.folder is not None and not isinstance(info.folder, str):
        raise AssertionError(f"{where}: DataInfo.folder must be a string or None, got {info.folder!r}")
    if info.image_size is not None and (isinstance(info.image_size, bool) or not isinstance(info.image_size, int)
                                        or info.image_size < 1):
        raise AssertionError(f"{where}: DataInfo.image_size must be a positive int or None, got {info.image_size!r}")
    if not isinstance(info.aligned, bool):
        raise AssertionError(f"{where}: DataInfo.aligned must be a bool, got {info.aligned!r}")
    _translations(info, channels, where, evaluable)
    if paired is not None and info.aligned != paired:
        raise AssertionError(
            f"{where}: DataInfo.aligned is {info.aligned}, but the test says the data is "
            f"{'paired' if paired else 'unpaired'}; set aligned={paired} (full-reference metrics such as PSNR and "
            "SSIM need aligned=True, and are refused on data that says False)")
    for entry in info.file_formats:
        ok = (isinstance(entry, tuple) and len(entry) == 3 and entry[0] in channels and isinstance(entry[1], str)
              and entry[1].startswith(".") and isinstance(entry[2], int) and entry[2] >= 1)
        if not ok:
            raise AssertionError(f"{where}: DataInfo.file_formats entry {entry!r}: expected (image key of channels, "
                                 "'.suffix', count >= 1), e.g. ('input', '.png', 12)")
    return info


def _translations(info: DataInfo, channels: dict[str, int], where: str, evaluable: bool) -> None:
    seen: set[str] = set()
    for entry in info.translations:
        if not (isinstance(entry, tuple) and len(entry) == 3):
            raise AssertionError(f"{where}: DataInfo.translations entry {entry!r}: expected (direction, input key, "
                                 "target key), e.g. ('AtoB', 'input', 'target')")
        direction, source, target = entry
        if direction not in DIRECTIONS or direction in seen:
            raise AssertionError(f"{where}: DataInfo.translations direction {direction!r}: expected AtoB or BtoA, "
                                 "each at most once")
        seen.add(direction)
        for key in (source, target):
            if key not in channels:
                raise AssertionError(f"{where}: DataInfo.translations {entry!r} names the image key {key!r}, which "
                                     f"the items do not hold (channels: {', '.join(channels)})")
    if not info.translations:
        if evaluable:
            raise AssertionError(
                f"{where}: DataInfo.translations is empty, so `translate eval` and the [eval] table cannot tell "
                "which key a generator reads and which holds the real images of its output (paired: "
                "translations=(('AtoB', 'input', 'target'),), aligned=True; unpaired: (('AtoB', 'A', 'B'), "
                "('BtoA', 'B', 'A'))); pass evaluable=False if the data set is for training only")
    elif info.direction not in seen:
        raise AssertionError(f"{where}: DataInfo.direction is {info.direction!r}, but translations cover only "
                             f"{', '.join(sorted(seen))}: a method exports its generator under DataInfo.direction, "
                             "and `translate eval` would find no images for it")


def _item(dataset: Any, key: tuple[int, int], channels: dict[str, int], where: str) -> dict[str, Any]:
    import torch

    try:
        item = dataset[key]
    except DataError as err:
        raise AssertionError(f"{where}: item {key} could not be read: {err}") from None
    except (ValueError, OverflowError, RuntimeError) as err:
        raise AssertionError(f"{where}: item {key} raised {type(err).__name__}: {err} (seeds are ints from 0 to "
                             "2**63 - 1, as the engine's sampler draws them: seed generators with the seed itself, "
                             "not with arithmetic on it that can overflow)") from None
    if not isinstance(item, dict):
        raise AssertionError(f"{where}: item {key} is a {type(item).__name__}, expected a dict")
    if not isinstance(item.get("name"), str):
        raise AssertionError(f"{where}: item {key} has no string 'name' (got {item.get('name')!r})")
    for image_key, count in channels.items():
        x = item.get(image_key)
        if not isinstance(x, torch.Tensor):
            raise AssertionError(f"{where}: item {key} has no tensor under {image_key!r} (channels names it)")
        if x.dtype != torch.float32 or x.dim() != 3 or x.shape[0] != count:
            raise AssertionError(f"{where}: item {key}[{image_key!r}] is {x.dtype} {tuple(x.shape)}, expected "
                                 f"float32 ({count}, H, W)")
        if not torch.isfinite(x).all() or x.min() < -1 - 1e-6 or x.max() > 1 + 1e-6:
            raise AssertionError(f"{where}: item {key}[{image_key!r}] has values outside [-1, 1] (min "
                                 f"{float(x.min()):.3g}, max {float(x.max()):.3g}) or non-finite ones")
    return item


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    import torch

    if a.keys() != b.keys():
        return False
    return all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)


def _same_key_same_item(dataset: Any, key: tuple[int, int], first: dict[str, Any], where: str) -> None:
    if not _same(first, dataset[key]):
        raise AssertionError(f"{where}: the key {key} gave two different items; every random choice must "
                             "come from the key's seed (translate.resolve_key), so that runs repeat and resume")


def _plain_int_key(dataset: Any, where: str) -> None:
    try:
        same = _same(dataset[0], dataset[(0, 0)])
    except (TypeError, ValueError) as err:
        raise AssertionError(f"{where}: a plain int key failed ({err}); use translate.resolve_key(key, len(self))") \
            from None
    if not same:
        raise AssertionError(f"{where}: key 0 and key (0, 0) gave different items; a plain int k means (k, k)")


def _index_past_the_end(dataset: Any, length: int, where: str) -> None:
    try:
        dataset[(length, 0)]
    except IndexError:
        return
    except Exception as err:  # noqa: BLE001 - any other error is the finding
        raise AssertionError(f"{where}: index {length} (past the end) raised {type(err).__name__}, expected "
                             "IndexError (translate.resolve_key raises it)") from None
    raise AssertionError(f"{where}: index {length} (past the end) returned an item, expected IndexError")


def _training_sizes(read: list[dict[str, Any]], info: DataInfo, where: str) -> None:
    side = info.image_size
    assert side is not None
    for _, source, target in info.translations:
        for key, want in ((target, side), (source, info.input_size)):
            for item in read:
                got = tuple(item[key].shape[1:])
                if got != (want, want):
                    raise AssertionError(
                        f"{where}: training item {item['name']!r}[{key!r}] is {got[0]}x{got[1]}, but DataInfo says "
                        f"image_size={side}, scale={info.scale}: {key!r} images should be {want}x{want}")


def _collates(read: list[dict[str, Any]], where: str) -> None:
    from torch.utils.data import default_collate

    try:
        default_collate(read)
    except (RuntimeError, TypeError) as err:
        raise AssertionError(f"{where}: two training items do not collate into a batch: {err}") from None


__all__ = ["check_dataset"]

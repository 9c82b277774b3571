"""Paired data sets: ``paired_ab`` (A|B side-by-side files) and ``paired_folders`` (A/ and B/ folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from translate.api import (
    IMAGE_EXTENSIONS,
    DataError,
    DataInfo,
    PairedAugment,
    convert_channels,
    list_images,
    read_image,
    resolve_key,
    split_pair,
    to_tensor,
)

from .options import PairedOptions, ShapesOptions

_SHOW = 8  # how many unmatched names an error lists


def missing_data_error(folder: Path, root: Path) -> DataError:
    """The error for a data folder that does not exist, with the way to get the data."""
    name = root.resolve().name or str(root)
    return DataError(
        f"data folder {folder} not found. `translate data download {name}` fetches public sets "
        f"(facades, maps, edges2shoes, ...) into place; the quickstart set `synthetic_shapes` "
        f"needs no download: it is generated on first use."
    )


class PairedDataset(torch.utils.data.Dataset):
    """Base of the paired sets: subclasses list ``self.names`` and implement :meth:`load_sides`.

    Items follow :mod:`translate.data.contract`: ``dataset[(index, seed)]`` ->
    ``{"input": (C_in, H, W), "target": (C_out, H, W), "name": str}`` in [-1, 1].
    """

    names: list[str]

    def __init__(self, options: Any, augment: PairedAugment) -> None:
        self.direction: str = options.direction
        self.info = DataInfo(image_size=options.training_size(), direction=options.direction,
                             folder=Path(options.root).name or None,
                             translations=((options.direction, "input", "target"),), aligned=True,
                             bit_depth=options.bit_depth)
        self.channels: dict[str, int] = {"input": options.input_channels, "target": options.output_channels}
        self.augment = augment

    def __len__(self) -> int:
        return len(self.names)

    def load_sides(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The A and B images of one pair, image space, native channel counts."""
        raise NotImplementedError

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, seed = resolve_key(key, len(self))
        a, b = self.load_sides(index)
        src, dst = (a, b) if self.direction == "AtoB" else (b, a)
        name = self.names[index]
        src = convert_channels(src, self.channels["input"], name=f"item {name!r} (input)")
        dst = convert_channels(dst, self.channels["target"], name=f"item {name!r} (target)")
        x, y = self.augment(src, dst, seed, name=name)
        return {"input": to_tensor(x), "target": to_tensor(y), "name": name}


class PairedABDataset(PairedDataset):
    """``root/<split>/*.png|jpg``: each file holds A on the left half and B on the right."""

    def __init__(self, options: PairedOptions | ShapesOptions, split: str) -> None:
        super().__init__(options, options.augment(split))
        root = Path(options.root)
        self.folder = root / split
        if not self.folder.is_dir():
            raise missing_data_error(self.folder, root)
        self.files = list_images(self.folder)[: options.max_items]
        if not self.files:
            raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in data folder {self.folder}")
        self.names = [p.stem for p in self.files]

    def load_sides(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return split_pair(read_image(self.files[index]), name=self.files[index])


class PairedFoldersDataset(PairedDataset):
    """``root/<split>/A/`` and ``root/<split>/B/`` (or ``root/A``, ``root/B``), matched by file stem."""

    def __init__(self, options: PairedOptions, split: str) -> None:
        super().__init__(options, options.augment(split))
        root = Path(options.root)
        base = root / split
        if not base.is_dir():
            if not ((root / "A").is_dir() and (root / "B").is_dir()):
                raise missing_data_error(base, root)
            base = root
        side_a, side_b = _by_stem(base / "A", root), _by_stem(base / "B", root)
        _check_matched(side_a, side_b, base)
        self.names = sorted(side_a)[: options.max_items]
        if not self.names:
            raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in {base / 'A'}")
        self.pairs = [(side_a[n], side_b[n]) for n in self.names]

    def load_sides(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        path_a, path_b = self.pairs[index]
        return read_image(path_a), read_image(path_b)


def _by_stem(folder: Path, root: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise missing_data_error(folder, root)
    files: dict[str, Path] = {}
    for path in list_images(folder):
        if path.stem in files:
            raise DataError(f"two files with the same name in {folder}: {files[path.stem].name} and {path.name}")
        files[path.stem] = path
    return files


def _check_matched(side_a: dict[str, Path], side_b: dict[str, Path], base: Path) -> None:
    only_a, only_b = sorted(set(side_a) - set(side_b)), sorted(set(side_b) - set(side_a))
    if not (only_a or only_b):
        return
    lines = [f"A and B files in {base} do not match by name:"]
    for names, have, lack in ((only_a, "A", "B"), (only_b, "B", "A")):
        if names:
            more = f" (and {len(names) - _SHOW} more)" if len(names) > _SHOW else ""
            lines.append(f"  {len(names)} in {have}/ but not in {lack}/: {', '.join(names[:_SHOW])}{more}")
    raise DataError("\n".join(lines))

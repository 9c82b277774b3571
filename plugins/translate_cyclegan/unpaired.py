"""The unpaired data set of CycleGAN: ``unpaired`` (trainA/trainB folders).

Layout of an unpaired set (as the CycleGAN reference code and the public CycleGAN archives)::

    root/trainA/  root/trainB/     # split "train"
    root/testA/   root/testB/      # splits "val" (unless valA/ and valB/ exist) and "test"
    root/valA/    root/valB/       # optional, split "val"

A and B may hold different numbers of images; a data set's length is the larger count.
Item ``(index, seed)`` (see :mod:`translate.data.contract`) holds ``A[index % len(A)]`` and, on the train
split, either ``B[index % len(B)]`` (``serial_batches``) or a B chosen at random from the item's
seed only, so the pairing is reproducible from the run seed and survives a resume. Other splits
always pair serially, as the reference test script does (``serial_batches`` at test time), so
that the rows of a sample grid show distinct images. On the train split A
and B get independent random crops and flips, each from its own seed derived from the item's
seed; other splits are deterministic (resize or centre crop, no flip).

The generated day/night set ``synthetic_unpaired`` is in :mod:`translate_cyclegan.synthetic`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from translate.api import (
    IMAGE_EXTENSIONS,
    DataError,
    DataInfo,
    file_formats,
    list_images,
    read_image,
    resolve_key,
    to_tensor,
)

from .data_options import SyntheticUnpairedOptions, UnpairedOptions

_SEED_MASK = 2**64 - 1

# --------------------------------------------------------------------------- unpaired folders


def split_folders(root: Path, split: str) -> tuple[Path, Path]:
    """The A and B folders of a split: ``trainA``/``trainB``; ``valA``/``valB`` or else
    ``testA``/``testB`` for ``val``; ``<split>A``/``<split>B`` otherwise.

    Raises:
        DataError: no candidate pair of folders exists (the message names the missing one
            and says how to get the public CycleGAN sets).
    """
    candidates = [(f"{split}A", f"{split}B")]
    if split == "val":
        candidates.append(("testA", "testB"))
    for name_a, name_b in candidates:
        if (root / name_a).is_dir() and (root / name_b).is_dir():
            return root / name_a, root / name_b
    name_a, name_b = candidates[-1]
    missing = [root / n for n in (name_a, name_b) if not (root / n).is_dir()]
    raise missing_data_error(missing, root, split)


def missing_data_error(missing: list[Path], root: Path, split: str = "") -> DataError:
    """The error for unpaired data folders that do not exist, with the way to get the data."""
    name = root.resolve().name or str(root)
    folders = " and ".join(str(p) for p in missing)
    noun = "folders" if len(missing) > 1 else "folder"
    what = f" for split {split!r}" if split else ""
    return DataError(
        f"data {noun} {folders} not found{what} (an unpaired data set holds trainA/, trainB/, testA/ and "
        f"testB/ folders under its root). `translate data download {name}` fetches the public CycleGAN sets "
        f"(horse2zebra, apple2orange, summer2winter_yosemite, monet2photo, ...) into place; the quickstart set "
        f"`synthetic_unpaired` needs no download: it is generated on first use."
    )


def _images(folder: Path, max_items: int | None) -> list[Path]:
    files = list_images(folder)[:max_items]
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in data folder {folder}")
    return files


class UnpairedDataset(torch.utils.data.Dataset):
    """Two unaligned image folders; see the module docstring.

    Items follow :mod:`translate.data.contract`: ``dataset[(index, seed)]`` ->
    ``{"A": (C_A, H, W), "B": (C_B, H, W), "name": A's file stem, "name_B": B's file stem}``,
    float32 in [-1, 1].
    """

    def __init__(self, options: UnpairedOptions | SyntheticUnpairedOptions, split: str) -> None:
        root = Path(options.root)
        self.split = split
        self.folder_a, self.folder_b = split_folders(root, split)
        self.files_a = _images(self.folder_a, options.max_items)
        self.files_b = _images(self.folder_b, options.max_items)
        self.names = [p.stem for p in self.files_a]
        self.channels: dict[str, int] = {"A": options.input_channels, "B": options.output_channels}
        self.serial_batches = options.serial_batches or split != "train"  # distinct rows off the train split
        self.augment = options.augment(split)
        self.info = DataInfo(image_size=options.training_size(), folder=root.name or None,
                             translations=(("AtoB", "A", "B"), ("BtoA", "B", "A")),
                             file_formats=file_formats({"A": self.files_a, "B": self.files_b}),
                             bit_depth=options.bit_depth)

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def pick(self, index: int, seed: int) -> tuple[int, int, int, int]:
        """``(index_A, index_B, seed_A, seed_B)`` of an item: everything random comes from ``seed``."""
        rng = np.random.default_rng(int(seed) & _SEED_MASK)
        random_b = int(rng.integers(len(self.files_b)))  # always drawn, so the augmentation seeds
        seed_a, seed_b = (int(s) for s in rng.integers(0, 2**63, size=2))  # do not depend on the mode
        index_b = index % len(self.files_b) if self.serial_batches else random_b
        return index % len(self.files_a), index_b, seed_a, seed_b

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, seed = resolve_key(key, len(self))
        index_a, index_b, seed_a, seed_b = self.pick(index, seed)
        path_a, path_b = self.files_a[index_a], self.files_b[index_b]
        a = self._load(path_a, self.channels["A"], seed_a)
        b = self._load(path_b, self.channels["B"], seed_b)
        return {"A": to_tensor(a), "B": to_tensor(b), "name": path_a.stem, "name_B": path_b.stem}

    def _load(self, path: Path, channels: int, seed: int) -> np.ndarray:
        image = read_image(path, channels)
        # PairedAugment on the image and a 1-channel view of it: the same geometry, ours is the first
        out, _ = self.augment(image, image[:, :, :1], seed, name=f"{path.parent.name}/{path.name}")
        return out


def build_unpaired(options: UnpairedOptions, split: str) -> UnpairedDataset:
    """Factory body of ``unpaired``."""
    return UnpairedDataset(options, split)


__all__ = ["UnpairedDataset", "build_unpaired", "missing_data_error", "split_folders"]

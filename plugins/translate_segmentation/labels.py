"""Ground-truth label maps for the segmentation score: decoded from colour label images, or read from files.

- :func:`decode_palette`: a colour label map (the generator's input, e.g. a ``gtFine_color`` image
  resized and JPEG-compressed) -> train ids by the nearest palette colour; pixels farther than the
  tolerance from every colour are ignored.
- :class:`LabelFiles`: label-id PNG files in a folder (the authors use the original
  ``gtFine/<split>/<city>/*_gtFine_labelIds.png``), matched to items by name or by index.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from translate.api import DataError

from .cityscapes import id_to_train_id

_SHOW = 5
#: File-name endings stripped to get the item a label file belongs to, per kind of label value.
SUFFIXES = {"cityscapes_ids": ("_gtFine_labelIds", "_labelIds"),
            "train_ids": ("_gtFine_labelTrainIds", "_labelTrainIds", "_trainIds")}
#: Endings of generated-image names stripped before matching (the authors' results are <frame>_leftImg8bit.png).
NAME_SUFFIXES = ("_leftImg8bit",)


def decode_palette(images: torch.Tensor, colours: torch.Tensor, train_ids: torch.Tensor, tolerance: float,
                   ignore_index: int) -> torch.Tensor:
    """Train ids ``(N, H, W)`` (int64) of colour label maps ``(N, 3, H, W)`` in [-1, 1].

    Args:
        colours: ``(P, 3)`` palette colours on the 0..255 scale.
        train_ids: ``(P,)`` the train id of each colour.
        tolerance: largest RGB distance (0..255 scale) to the nearest colour; farther pixels get
            ``ignore_index``.
    """
    rgb = (images.float() + 1.0) * 127.5
    dist = ((rgb[:, None] - colours.to(rgb)[None, :, :, None, None]) ** 2).sum(2)  # (N, P, H, W)
    best, index = dist.min(1)
    labels = train_ids.to(images.device)[index]
    return torch.where(best <= tolerance ** 2, labels, torch.full_like(labels, ignore_index))


def _key(stem: str, suffixes: tuple[str, ...]) -> str | None:
    for suffix in suffixes:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return None


class LabelFiles:
    """Label PNGs under ``folder`` (searched recursively), found for item names.

    ``match="name"``: item ``NAME`` (or ``NAME_leftImg8bit``) takes ``NAME.png`` or ``NAME`` plus one
    of :data:`SUFFIXES`. ``match="index"``: item ``"i"`` takes the i-th file with one of those
    endings in sorted path order (the order in which the authors' ``prepare_cityscapes_dataset.py``
    numbered the pairs it wrote as ``0.jpg, 1.jpg, ...``).
    """

    def __init__(self, folder: str | os.PathLike[str], *, match: str = "name", values: str = "cityscapes_ids",
                 ignore_index: int = 255, index_base: int = 0) -> None:
        self.folder = Path(folder).expanduser()
        self.match, self.values, self.ignore_index, self.index_base = match, values, ignore_index, index_base
        self._by_name: dict[str, Path] | None = None
        self._ordered: list[Path] = []
        table = id_to_train_id() if values == "cityscapes_ids" else list(range(256))
        if values == "cityscapes_ids":
            table = [ignore_index if t == 255 else t for t in table]
        self._lut = np.asarray(table, dtype=np.int64)

    def _index(self) -> dict[str, Path]:
        if self._by_name is not None:
            return self._by_name
        if not self.folder.is_dir():
            raise DataError(f"labels_dir {self.folder} is not a folder (it should hold the label PNG files, e.g. "
                            "Cityscapes gtFine/val/<city>/*_gtFine_labelIds.png)")
        suffixes = SUFFIXES[self.values]
        by_name: dict[str, Path] = {}
        for path in sorted(self.folder.rglob("*.png"), key=lambda p: p.relative_to(self.folder).as_posix()):
            key = _key(path.stem, suffixes)
            if key is not None:
                self._ordered.append(path)
            elif self.match == "index":
                continue
            name = key if key is not None else path.stem
            if name in by_name and by_name[name] != path:
                raise DataError(f"labels_dir {self.folder}: two label files for item {name!r}: "
                                f"{by_name[name].relative_to(self.folder)} and {path.relative_to(self.folder)}")
            by_name[name] = path
        if not by_name:
            raise DataError(f"labels_dir {self.folder}: no label PNG files (expected NAME.png or "
                            f"NAME{suffixes[0]}.png files)")
        self._by_name = by_name
        return by_name

    def path_for(self, name: str) -> Path:
        """The label file of item ``name``."""
        by_name = self._index()
        if self.match == "index":
            if not name.isdigit():
                raise DataError(f"labels_match = 'index' needs item names that are numbers (the authors' 0.jpg, "
                                f"1.jpg, ...); got item {name!r}")
            position = int(name) - self.index_base
            if not 0 <= position < len(self._ordered):
                raise DataError(f"labels_dir {self.folder}: item {name!r} is file number {position} (index_base "
                                f"{self.index_base}) but there are {len(self._ordered)} files ending in "
                                f"{' or '.join(SUFFIXES[self.values])}.png")
            return self._ordered[position]
        key = _key(name, NAME_SUFFIXES) or name
        if key not in by_name:
            some = ", ".join(sorted(by_name)[:_SHOW])
            raise DataError(f"labels_dir {self.folder}: no label file for item {name!r} (looked for {key}.png, "
                            f"{key}{SUFFIXES[self.values][0]}.png, ...; found items such as {some}). If the data "
                            "set numbers its pairs as the authors' prepare script does, set labels_match = 'index'")
        return by_name[key]

    def load(self, name: str) -> np.ndarray:
        """The train ids ``(H, W)`` (int64) of item ``name``; unlabelled pixels are ``ignore_index``."""
        path = self.path_for(name)
        try:
            with Image.open(path) as img:
                if img.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
                    raise DataError(f"{path}: a {img.mode} image, not a label-id image (one value per pixel; "
                                    "use the *_gtFine_labelIds.png files, not *_color.png)")
                ids = np.asarray(img, dtype=np.int64)
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise DataError(f"cannot read label file {path}: {err}") from None
        ids = np.where((ids >= 0) & (ids < 256), ids, 255)
        return self._lut[ids] if self.values == "cityscapes_ids" else ids

    def batch(self, names: list[str], device: torch.device) -> torch.Tensor:
        """The labels of a batch ``(N, H, W)``; every file of a batch must have the same size."""
        maps = [self.load(n) for n in names]
        shapes = {m.shape for m in maps}
        if len(shapes) > 1:
            raise DataError(f"label files of one batch differ in size ({sorted(shapes)}) for items {names}")
        return torch.from_numpy(np.stack(maps)).to(device)

"""What ``translate infer`` translates: input files, folders and globs, their output names, and
how one input is read (a plain image, or the input half of an A|B pair).

Inputs are plain images given as files, folders (searched recursively) or glob patterns
(``"photos/*.jpg"``, ``"scans/**/*.png"``; ``**`` matches any depth; quote them so that the shell
does not expand them first). Each output is written as ``DIR/<path relative to its input folder,
or to the folder part of its glob before the first wildcard, same stem>.png``; a file given
directly is written as ``DIR/<stem>.png``. A glob that matches nothing is an error naming it.

Paired inputs (``pairs=True``, ``--pairs``): each file holds A on the left half and B on the
right (even width, as the paired training data). The half on the generator's input side (A for
``AtoB``, B for ``BtoA``) is translated; the other half is the target.
"""

from __future__ import annotations

import glob
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..data.imageio import IMAGE_EXTENSIONS, convert_channels, list_images, read_image, split_pair
from ..errors import DataError, TranslateError
from ..models import GeneratorMeta

_GLOB_MAGIC = re.compile(r"[*?[]")


@dataclass(frozen=True)
class InputImage:
    """One image to translate: where it is read from and its output path relative to the output folder."""

    source: Path
    relative: Path


def collect_inputs(inputs: Iterable[str | Path]) -> list[InputImage]:
    """Expand files, folders (recursively) and glob patterns into images with their output names.

    A path that exists is taken literally (even if its name holds ``*``, ``?`` or ``[``);
    otherwise a string with one of those is a glob (``**`` recursive). Glob matches that are
    folders are searched recursively; matched files without an image extension are skipped,
    as in folders. The same file reached twice under the same output name is kept once.

    Raises:
        DataError: an input does not exist, a glob matches no image, nothing to translate was
            found, or two inputs would write the same output file.
    """
    inputs = list(inputs)
    items: list[InputImage] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path, recursive=True)
            if not found:
                print(f"warning: no images in folder {path}", file=sys.stderr)
            items += _named(found, path)
        elif path.is_file():
            items.append(InputImage(path, Path(path.stem + ".png")))
        elif _GLOB_MAGIC.search(str(raw)):
            items += _expand_glob(str(raw))
        else:
            raise DataError(f"input not found: {path}")
    if not items:
        raise DataError("no images to translate in " + ", ".join(str(i) for i in inputs))
    unique: list[InputImage] = []
    seen: dict[Path, Path] = {}
    clashes = []
    for item in items:
        if item.relative in seen:
            if _same_file(seen[item.relative], item.source):
                continue
            clashes.append(f"{seen[item.relative]} and {item.source} -> {item.relative}")
        seen[item.relative] = item.source
        unique.append(item)
    if clashes:
        raise DataError("inputs would overwrite each other's output: " + "; ".join(clashes))
    return unique


def _named(files: list[Path], base: Path) -> list[InputImage]:
    """``files`` with output names relative to ``base``, as PNG."""
    return [InputImage(p, p.relative_to(base).with_suffix(".png")) for p in files]


def _expand_glob(pattern: str) -> list[InputImage]:
    """Images matched by a glob, named relative to the pattern's folder part before the first wildcard."""
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) and not _GLOB_MAGIC.search(parts[fixed]):
        fixed += 1
    base = Path(*parts[:fixed]) if fixed else Path(".")
    matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
    if not matches:
        raise DataError(f"no files match the pattern {pattern!r}")
    items: list[InputImage] = []
    for m in matches:
        if m.is_dir():
            items += _named(list_images(m, recursive=True), base)
        elif m.suffix.lower() in IMAGE_EXTENSIONS and m.is_file():
            items += _named([m], base)
    if not items:
        raise DataError(f"the pattern {pattern!r} matches {len(matches)} path(s) but no images "
                        f"({', '.join(IMAGE_EXTENSIONS)})")
    return items


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:  # pragma: no cover
        return False


def read_input(item: InputImage, meta: GeneratorMeta, *, pairs: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """The image to translate, converted to the generator's input channels, and for a pair the
    target half (converted to its output channels; ``None`` without ``pairs``).

    Raises:
        DataError: the file cannot be read, or (``pairs``) its width cannot be split in halves.
    """
    if not pairs:
        return read_image(item.source, channels=meta.in_channels), None
    a, b = split_pair(read_image(item.source), name=item.source)
    src, dst = (b, a) if meta.direction == "BtoA" else (a, b)
    return convert_channels(src, meta.in_channels), convert_channels(dst, meta.out_channels)


def parse_size(value: str | int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"256"`` -> ``(256, 256)``; ``"320x240"`` (width x height) -> ``(240, 320)`` as ``(height, width)``.

    An int is a square side; a tuple is taken as ``(height, width)``; ``None`` stays ``None``.

    Raises:
        TranslateError: not ``N`` or ``WxH`` with sides from 1 to 65536.
    """
    if value is None:
        return None
    if isinstance(value, int):
        hw = (value, value)
    elif isinstance(value, tuple):
        hw = (int(value[0]), int(value[1]))
    else:
        m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", str(value))
        if not m:
            raise TranslateError(f"size must be N or WxH (e.g. 256 or 512x256), got {value!r}")
        w = int(m.group(1))
        hw = (int(m.group(2)) if m.group(2) else w, w)
    if not all(1 <= s <= 65536 for s in hw):
        raise TranslateError(f"size sides must be from 1 to 65536, got {value!r}")
    return hw


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an ``(H, W, C)`` image-space array to ``(height, width)``: bicubic, antialiased, clipped to [0, 1]."""
    import torch
    import torch.nn.functional as F

    if tuple(image.shape[:2]) == tuple(size):
        return image
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    y = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
    return np.ascontiguousarray(y[0].clamp_(0.0, 1.0).numpy().transpose(1, 2, 0))


__all__ = ["InputImage", "collect_inputs", "parse_size", "read_input", "resize_image"]

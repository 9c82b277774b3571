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


@dataclass(frozen=True)
class InputSet:
    """What :func:`find_inputs` found: the images to translate and the files skipped for not being images."""

    items: list[InputImage]
    skipped: list[Path]


def image_types() -> str:
    """The file name endings read as images, for messages: ``".png, .jpg, ..."``."""
    return ", ".join(IMAGE_EXTENSIONS)


def collect_inputs(inputs: Iterable[str | Path]) -> list[InputImage]:
    """The images of :func:`find_inputs` (without the skipped files)."""
    return find_inputs(inputs).items


def find_inputs(inputs: Iterable[str | Path]) -> InputSet:
    """Expand files, folders (recursively) and glob patterns into images with their output names.

    A path that exists is taken literally (even if its name holds ``*``, ``?`` or ``[``);
    otherwise a string with one of those is a glob (``**`` recursive). Glob matches that are
    folders are searched recursively. Files without an image extension (:data:`IMAGE_EXTENSIONS`),
    given directly, in folders or matched by globs, are skipped and listed in
    :attr:`InputSet.skipped`; hidden files in folders are ignored. The same file reached twice under
    the same output name is kept once. An input that yields no image while others do gets a warning
    on stderr.

    Raises:
        DataError: an input does not exist, a glob matches nothing, nothing to translate was found
            (one message naming the inputs, the image types read and the files skipped), or two
            inputs would write the same output file.
    """
    inputs = list(inputs)
    items: list[InputImage] = []
    skipped: list[Path] = []
    empty: list[str] = []
    for raw in inputs:
        path = Path(raw)
        before = len(items)
        if path.is_dir():
            items += _named(list_images(path, recursive=True), path)
            skipped += _other_files(path)
        elif path.is_file():
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                items.append(InputImage(path, Path(path.stem + ".png")))
            else:
                skipped.append(path)
        elif _GLOB_MAGIC.search(str(raw)):
            found, others = _expand_glob(str(raw))
            items += found
            skipped += others
        else:
            raise DataError(f"input not found: {path}")
        if len(items) == before:
            empty.append(str(raw))
    if not items:
        names = ", ".join(str(i) for i in inputs) or "(no inputs given)"
        if inputs and all(Path(i).is_file() for i in inputs):  # files named directly: say so once each
            verb = "is not an image file" if len(inputs) == 1 else "are not image files"
            raise DataError(f"nothing to translate: {names} {verb} (the types read: {image_types()})")
        raise DataError(f"nothing to translate in {names}: no image files (the types read: {image_types()})"
                        + (f"; skipped {describe_skipped(skipped)}" if skipped else ""))
    for raw in empty:
        print(f"warning: no image files in {raw} (the types read: {image_types()})", file=sys.stderr)
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
    return InputSet(unique, list(dict.fromkeys(skipped)))


def describe_skipped(skipped: list[Path], shown: int = 3) -> str:
    """``"2 files that are not images (a.txt, b.csv)"``: a count and the first ``shown`` names."""
    n = len(skipped)
    names = ", ".join(str(p) for p in skipped[:shown]) + (", ..." if n > shown else "")
    return f"{n} file{'' if n == 1 else 's'} that {'is' if n == 1 else 'are'} not an image ({names})"


def _other_files(folder: Path) -> list[Path]:
    """The files under ``folder`` (recursively) that :func:`list_images` leaves out, hidden ones aside."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() not in IMAGE_EXTENSIONS
                  and not p.name.startswith(".") and p.is_file())


def _named(files: list[Path], base: Path) -> list[InputImage]:
    """``files`` with output names relative to ``base``, as PNG."""
    return [InputImage(p, p.relative_to(base).with_suffix(".png")) for p in files]


def _expand_glob(pattern: str) -> tuple[list[InputImage], list[Path]]:
    """Images matched by a glob, named relative to the pattern's folder part before the first wildcard,
    and the matched files that are not images."""
    parts = Path(pattern).parts
    fixed = 0
    while fixed < len(parts) and not _GLOB_MAGIC.search(parts[fixed]):
        fixed += 1
    base = Path(*parts[:fixed]) if fixed else Path(".")
    matches = sorted(Path(m) for m in glob.glob(pattern, recursive=True))
    if not matches:
        raise DataError(f"no files match the pattern {pattern!r}")
    items: list[InputImage] = []
    others: list[Path] = []
    for m in matches:
        if m.is_dir():
            items += _named(list_images(m, recursive=True), base)
            others += _other_files(m)
        elif m.suffix.lower() in IMAGE_EXTENSIONS and m.is_file():
            items += _named([m], base)
        elif m.is_file():
            others.append(m)
    return items, others


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


__all__ = ["InputImage", "InputSet", "collect_inputs", "describe_skipped", "find_inputs", "image_types", "parse_size", "read_input", "resize_image"]

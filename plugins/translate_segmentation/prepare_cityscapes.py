"""Make the pix2pix Cityscapes pairs from the original Cityscapes files (their licence forbids redistribution).

Usage::

    translate prepare-cityscapes gtFine/ leftImg8bit/ data/cityscapes

``gtFine/`` and ``leftImg8bit/`` are the unzipped ``gtFine_trainvaltest.zip`` and
``leftImg8bit_trainvaltest.zip`` from https://www.cityscapes-dataset.com (each with ``train/`` and
``val/`` folders of cities). For every frame, the photo and its colour label map
(``*_gtFine_color.png``) are resized to 256x256 (bicubic) and written side by side, photo left (A)
and labels right (B), as ``OUT/<split>/<frame>.jpg`` (JPEG quality 100, no chroma subsampling),
the layout of the pix2pix authors' pairs; ``paired_ab`` reads them with ``direction = "BtoA"``.
Files are named after the frame (``frankfurt_000000_000294.jpg``), so ``fcn_score`` finds each
item's ``*_gtFine_labelIds.png`` by name. Each file is written atomically; existing pairs are
replaced only with ``--force``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from PIL import Image

from translate.api import DataError

PHOTO_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_color.png"


def frames(folder: Path, suffix: str) -> dict[str, Path]:
    """``<city>/<frame><suffix>`` files under ``folder``, by frame name."""
    return {p.name[: -len(suffix)]: p for p in sorted(folder.glob(f"*/*{suffix}"))}


def pair_image(photo: Path, labels: Path, size: int) -> Image.Image:
    """The ``A|B`` image: the photo and the colour labels, each resized to ``size`` x ``size``."""
    out = Image.new("RGB", (2 * size, size))
    for i, path in enumerate((photo, labels)):
        with Image.open(path) as img:
            out.paste(img.convert("RGB").resize((size, size), Image.BICUBIC), (i * size, 0))
    return out


def prepare(gtfine: str | os.PathLike[str], leftimg: str | os.PathLike[str], out: str | os.PathLike[str], *,
            splits: tuple[str, ...] = ("train", "val"), size: int = 256, force: bool = False,
            log: bool = False) -> dict[str, int]:
    """Write the pairs of each split; returns the number of pairs per split.

    Raises:
        DataError: a folder is missing, a split has no frames, photos and label maps do not match
            by frame, or a pair exists and ``force`` is false.
    """
    gtfine, leftimg, out = Path(gtfine), Path(leftimg), Path(out)
    counts = {}
    for split in splits:
        for folder in (gtfine / split, leftimg / split):
            if not folder.is_dir():
                raise DataError(f"{folder} is not a folder; expected the unzipped Cityscapes gtFine/ and "
                                f"leftImg8bit/ folders, each with {split}/<city>/ inside")
        labels, photos = frames(gtfine / split, LABEL_SUFFIX), frames(leftimg / split, PHOTO_SUFFIX)
        if not labels:
            raise DataError(f"{gtfine / split}: no <city>/*{LABEL_SUFFIX} files")
        if set(labels) != set(photos):
            only_l, only_p = sorted(set(labels) - set(photos)), sorted(set(photos) - set(labels))
            raise DataError(f"{split}: photos and label maps do not match: {len(only_l)} frames only in "
                            f"{gtfine / split} (e.g. {only_l[:3]}), {len(only_p)} only in {leftimg / split} "
                            f"(e.g. {only_p[:3]})")
        target = out / split
        target.mkdir(parents=True, exist_ok=True)
        if not force:
            existing = [n for n in labels if (target / f"{n}.jpg").exists()]
            if existing:
                raise DataError(f"{target} already holds {len(existing)} of these pairs (e.g. {existing[0]}.jpg); "
                                "pass --force to replace them")
        for i, name in enumerate(sorted(labels)):
            _save_atomic(pair_image(photos[name], labels[name], size), target / f"{name}.jpg")
            if log and (i + 1) % max(1, len(labels) // 10) == 0:
                print(f"{split}: {i + 1}/{len(labels)}", flush=True)
        counts[split] = len(labels)
    return counts


def _save_atomic(image: Image.Image, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp, format="JPEG", quality=100, subsampling=0)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


DESCRIPTION = "Make pix2pix Cityscapes A|B pairs (photo | colour labels) from the original Cityscapes files."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate prepare-cityscapes``."""
    parser.description = DESCRIPTION
    parser.add_argument("gtfine", help="the unzipped gtFine folder (with train/ and val/)")
    parser.add_argument("leftimg", help="the unzipped leftImg8bit folder (with train/ and val/)")
    parser.add_argument("out", help="output data folder, e.g. data/cityscapes")
    parser.add_argument("--splits", default="train,val", help="comma-separated splits (default train,val)")
    parser.add_argument("--size", type=int, default=256, help="side of each half in pixels (default 256)")
    parser.add_argument("--force", action="store_true", help="replace pairs that exist")


def run(args: argparse.Namespace) -> int:
    """Write the pairs; missing or mismatched Cityscapes files raise :class:`TranslateError`."""
    counts = prepare(args.gtfine, args.leftimg, args.out, splits=tuple(s for s in args.splits.split(",") if s),
                     size=args.size, force=args.force, log=True)
    print(", ".join(f"{split}: {n} pairs" for split, n in counts.items()) + f" in {args.out}")
    return 0

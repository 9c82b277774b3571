"""``translate eval stats``: the statistics of a set of real images, saved for metrics to compare with later.

A metric that implements :class:`~translate.components.metric.ReferenceStatistics` (FID and KID do)
summarises real images once; ``translate eval --reference FILE`` and a recipe's ``[eval] reference``
then compare generated images with the file instead of reading the real images again, and the
published statistics of a benchmark (clean-fid's ``.npz`` files) can be used the same way.

The images come from a folder (every image below it, recursively, in path order, each converted to
RGB with Pillow without applying EXIF orientation: what clean-fid reads for a folder, so that the
same folder gives the same statistics) or from a data split (``--data RECIPE.toml --split test``:
the target images of one translation of the recipe's data set, after the data set's own loading,
as ``translate eval`` compares with them). The file holds the metric's arrays plus
``translate_protocol`` (JSON text: the metric, its options and protocol, the images) and is written
atomically (:func:`translate.evaluation.reference.write_reference`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from ..components.metric import ReferenceStatistics
from ..errors import DataError, TranslateError
from ..evaluation.reference import write_reference
from ..evaluation.runner import EvaluationError, build_metric
from .eval_inputs import DATA_SETTING, choose_data, choose_metrics, data_settings

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..plugin.registry import Registry

IMAGE_SUFFIXES = frozenset({".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp"})
"""The image files read below a folder (clean-fid's list, without its NumPy arrays), any case."""


def folder_images(folder: Path) -> list[Path]:
    """Every image file below ``folder`` (recursively), in path order."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def read_rgb(path: Path) -> "torch.Tensor":
    """``path`` as a ``(3, H, W)`` float32 tensor in [-1, 1]: Pillow's RGB conversion of its pixels, as
    clean-fid reads a folder (no EXIF orientation applied).

    Raises:
        DataError: the file is not a readable image (the message names it).
    """
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            pixels = np.array(img.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise DataError(f"{path}: not a readable image ({err})") from None
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div(127.5).sub(1.0)


def _batches(images: Iterable["torch.Tensor"], batch_size: int) -> Iterator[list["torch.Tensor"]]:
    """Consecutive images of one size, at most ``batch_size`` at a time."""
    group: list[torch.Tensor] = []
    for image in images:
        if group and (len(group) == batch_size or group[0].shape != image.shape):
            yield group
            group = []
        group.append(image)
    if group:
        yield group


def _target_key(dataset: Any, direction: str | None, where: str) -> tuple[str, str]:
    """The direction and the target image key whose images are summarised."""
    from ..data.contract import data_info

    translations = data_info(dataset).translations
    if not translations:
        raise DataError(f"{where}: the data set does not say which images are targets (DataInfo.translations)")
    if direction is None:
        if len(translations) > 1:
            raise DataError(f"{where}: the data set translates in {len(translations)} directions "
                            f"({', '.join(d for d, _, _ in translations)}); choose one with --direction "
                            "(its target images are summarised)")
        return translations[0][0], translations[0][2]
    for d, _, target in translations:
        if d == direction:
            return d, target
    raise DataError(f"--direction {direction}: the data set translates {', '.join(d for d, _, _ in translations)}")


def stats_cli(args: argparse.Namespace, registry: "Registry") -> int:
    """``translate eval stats FOLDER | --data RECIPE.toml [--split S] [--direction D] --metrics M --out F.npz``."""
    import torch

    from ..inference.translator import resolve_device
    from ..version import __version__

    out = getattr(args, "out", None)
    if not out:
        raise TranslateError("translate eval stats: --out FILE.npz is required (where the statistics are written)")
    out = Path(out)
    folder, data = getattr(args, "folder", None), getattr(args, "data", None)
    if (folder is None) == (data is None):
        raise TranslateError("translate eval stats: give either a FOLDER of images or --data RECIPE.toml (with "
                             "--split) for a data split, not both")
    if getattr(args, "reference", None):
        raise TranslateError("translate eval stats: --reference compares a model with statistics; it does not "
                             "apply here")
    batch_size = getattr(args, "batch_size", None) or 8
    if batch_size < 1:
        raise TranslateError(f"--batch-size {batch_size}: must be at least 1")
    recipe_eval, source, batches = None, {}, None
    data_set, metric_set = data_settings(list(getattr(args, "metric_options", []) or []))
    if data_set and data is None:
        raise TranslateError(f"--set {data_set[0]}: {DATA_SETTING}KEY=VALUE changes the data set of --data "
                             "RECIPE.toml, and a folder of images has none")
    if data is not None:
        if not (data.endswith(".toml") and Path(data).is_file()):
            raise DataError(f"--data {data}: statistics of a split need a recipe file (--data RECIPE.toml); for a "
                            "folder of images give the folder itself (translate eval stats FOLDER)")
        chosen = choose_data(data, None, None, getattr(args, "split", None), registry, overrides=data_set)
        direction, key = _target_key(chosen.dataset, getattr(args, "direction", None), f"--data {data}")
        items = (chosen.dataset[(i, i)][key] for i in range(len(chosen.dataset)))
        recipe_eval, batches = chosen.eval, _batches(items, batch_size)
        source = {**{k: v for k, v in chosen.describe.items() if k != "options"}, "direction": direction,
                  "images": key}
    else:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder of images")
        if not folder_images(folder):
            raise DataError(f"{folder}: holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        batches = _batches(map(read_rgb, folder_images(folder)), batch_size)
        source = {"folder": str(folder), "reading": "every image below the folder in path order, Pillow's RGB "
                  "conversion, no EXIF orientation (as clean-fid)"}
    specs = choose_metrics(getattr(args, "metrics", None), metric_set, recipe_eval, False, registry)
    if len(specs) != 1:
        names = ", ".join(s.name for s in specs)
        raise EvaluationError(f"translate eval stats: name one metric (--metrics), got {names}")
    spec = specs[0]
    device = resolve_device(getattr(args, "device", "auto"))
    metric = build_metric(registry, spec, device=device, where="eval stats")
    if not isinstance(metric, ReferenceStatistics):
        raise EvaluationError(f"metric {spec.name!r} does not summarise real images as statistics (it does not "
                              "implement translate.ReferenceStatistics)")
    count = 0
    with torch.no_grad():
        for group in batches:
            metric.add_real(torch.stack(group).to(device))
            count += len(group)
    arrays = dict(metric.statistics())
    protocol = {"metric": spec.name, "options": spec.options, "protocol": metric.protocol(), "images": count,
                "source": source, "translate_version": __version__}
    import numpy as np

    arrays["translate_protocol"] = np.array(json.dumps(protocol, default=str))
    write_reference(out, arrays)
    from ..utils.hashing import file_sha256

    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in arrays.items() if k != "translate_protocol")
    print(f"statistics of {count} images ({spec.name}): {shapes}", file=sys.stderr)
    print(f"wrote {out} (sha256 {file_sha256(out)})")
    return 0


__all__ = ["IMAGE_SUFFIXES", "folder_images", "read_rgb", "stats_cli"]

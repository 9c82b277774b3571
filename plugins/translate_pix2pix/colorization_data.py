"""Colorization data sets: (grey, RGB) pairs made from colour images.

- ``colorization``: any folder of colour images (``root/<split>/`` when it has split folders,
  else ``root`` itself for every split; sub-folders are read too, so ImageNet's
  ``train/<class>/`` layout works);
- ``synthetic_colorization``: generated on first use (no downloads), shaded shapes whose colour
  is fixed by their kind (circle red, square blue, triangle green, ellipse amber) on a background
  that goes from pale blue at the top to sand at the bottom: the colour is predictable from the
  grey image, so a small model learns it in minutes.

Each item: ``target`` the RGB image (augmented as any paired set: resize, crop, flip) and
``input`` the grey image whose Lab L equals the target's (the sRGB encoding of the target's
relative luminance, computed with kornia after augmentation: see :mod:`.colorization_lab`),
both ``(C, H, W)`` in [-1, 1]. Generated files: ``root/{train,val,test}/*.png`` (RGB),
``root/test_inputs/*.png`` (the grey test images, for ``translate infer``), ``root/manifest.json``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch

from translate.api import (
    IMAGE_EXTENSIONS,
    DataError,
    DataInfo,
    convert_channels,
    ensure_generated,
    list_images,
    paint_shape,
    place_shapes,
    read_image,
    resolve_key,
    to_uint8,
)

from .colorization_lab import grey_of
from .colorization_options import ColorFolderOptions, ColorShapesOptions

SPLITS = ("train", "val", "test")
GENERATED_NAME = "synthetic_colorization"
GENERATOR_VERSION = 1
COLOURS = np.array([[0.86, 0.20, 0.18], [0.18, 0.36, 0.86], [0.16, 0.62, 0.26], [0.95, 0.62, 0.10]],
                   dtype=np.float32)
"""RGB of each shape kind (:data:`translate.api.SHAPE_KINDS` order: circle, square, triangle, ellipse)."""
SKY, SAND = np.array([0.70, 0.82, 0.95], dtype=np.float32), np.array([0.93, 0.86, 0.70], dtype=np.float32)
SUPERSAMPLE = 2
_SPLIT_WORD = {"train": 1, "val": 2, "test": 3}
PARAMETERS = ("seed", "count", "val_count", "test_count", "image_size")


class ColorizationDataset(torch.utils.data.Dataset):
    """``dataset[(index, seed)]`` -> ``{"input": (1, H, W) grey, "target": (3, H, W) RGB, "name": str}``."""

    def __init__(self, files: list[Path], options: ColorFolderOptions | ColorShapesOptions, split: str,
                 folder: str | None, limitations: tuple[str, ...] = ()) -> None:
        self.channels = {"input": 1, "target": 3}
        self.files = files
        self.names = [p.stem for p in files]
        self.augment = options.augment(split)
        self.info = DataInfo(image_size=options.training_size(), direction="AtoB", folder=folder,
                             limitations=limitations, translations=(("AtoB", "input", "target"),), aligned=True,
                             bit_depth=options.bit_depth)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, seed = resolve_key(key, len(self))
        rgb = convert_channels(read_image(self.files[index]), 3)
        rgb, _ = self.augment(rgb, rgb, seed, name=self.names[index])
        target = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        with torch.no_grad():
            grey = grey_of(target)
        return {"input": grey * 2 - 1, "target": target * 2 - 1, "name": self.names[index]}


def build_color_folder(options: ColorFolderOptions, *, split: str) -> ColorizationDataset:
    """Factory of ``colorization``: the colour images of ``root/<split>/`` (or of ``root``)."""
    root = Path(options.root)
    if not root.is_dir():
        raise DataError(f"data folder {root} not found: data.options.root must name a folder of colour images "
                        f"(or root/train, root/val, root/test sub-folders)")
    has_splits = [s for s in SPLITS if (root / s).is_dir()]
    if has_splits and split not in has_splits:
        raise DataError(f"data folder {root} has {', '.join(f'{s}/' for s in has_splits)} but no {split}/ folder "
                        f"(a folder without train/, val/ and test/ serves its images for every split)")
    folder = root / split if has_splits else root
    files = list_images(folder, recursive=options.recursive)[: options.max_items]
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in data folder {folder}"
                        + ("" if options.recursive else " (data.options.recursive = false: sub-folders not read)"))
    return ColorizationDataset(files, options, split, root.resolve().name or None)


def build_color_shapes(options: ColorShapesOptions, *, split: str) -> ColorizationDataset:
    """Factory of ``synthetic_colorization``: generate if needed, then serve the split."""
    if split not in SPLITS:
        raise DataError(f"{GENERATED_NAME} has the splits 'train', 'val' and 'test', not {split!r}")
    params = {"generator_version": GENERATOR_VERSION, **options.model_dump(include=set(PARAMETERS))}
    expected = {"train": params["count"], "val": params["val_count"], "test": params["test_count"],
                "test_inputs": params["test_count"]}
    ensure_generated(options.root, params, dataset=GENERATED_NAME, expected=expected,
                     generate=functools.partial(write_color_shapes, params=params))
    files = list_images(Path(options.root) / split)[: options.max_items]
    if not files:
        raise DataError(f"{GENERATED_NAME}: split {split!r} has no images (data.options.test_count = 0?)")
    limitation = (f"It was trained on synthetic data (`{GENERATED_NAME}`): a demonstration and test model, "
                  "not meant for real photographs.")
    return ColorizationDataset(files, options, split, Path(options.root).name or None, (limitation,))


def render_color_shapes(rng: np.random.Generator, size: int) -> np.ndarray:
    """One colour image, ``(size, size, 3)`` float32 in [0, 1]."""
    s = size * SUPERSAMPLE
    t = ((np.arange(s, dtype=np.float32) + 0.5) / s)[:, None, None]
    img = np.broadcast_to(SKY * (1 - t) + SAND * t, (s, s, 3)).copy()
    for shape in place_shapes(rng, size, radius=(0.11, 0.19), gap=2):
        paint_shape(img, shape, COLOURS[shape.kind], supersample=SUPERSAMPLE, light=(0.55, 1.08))
    return img.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))


def write_color_shapes(folder: Path, params: dict[str, Any]) -> None:
    """Write the set's images into ``folder`` (``ensure_generated`` adds the manifest)."""
    from PIL import Image

    counts = {"train": params["count"], "val": params["val_count"], "test": params["test_count"]}
    (folder / "test_inputs").mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        (folder / split).mkdir(parents=True, exist_ok=True)
        for i in range(counts[split]):
            rgb = to_uint8(render_color_shapes(np.random.default_rng([params["seed"], _SPLIT_WORD[split], i]),
                                               params["image_size"]))
            Image.fromarray(rgb).save(folder / split / f"{i:05d}.png")
            if split == "test":  # the grey of the stored (8-bit) colours, as the data set serves it
                with torch.no_grad():
                    grey = grey_of(torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32) / 255))
                Image.fromarray(to_uint8(grey.numpy().transpose(1, 2, 0))[:, :, 0]).save(
                    folder / "test_inputs" / f"{i:05d}.png")

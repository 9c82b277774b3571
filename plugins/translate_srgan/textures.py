"""``sr_shapes``: the super-resolution quickstart set, generated from a seed (no downloads).

Each high-resolution image holds two to four shapes (:func:`translate.api.place_shapes`), each
filled with a two-colour texture with hard edges (stripes at any angle, a rotated checkerboard or
concentric rings, periods of 12 to 24 pixels), on a background of wide low-contrast stripes; drawn
with 2x supersampling, so edges are sharp but not jagged. Bicubic 4x downsampling turns those
edges into soft gradients while keeping the pattern itself (a period of 12 pixels is 3
low-resolution pixels, above the 2 below which a pattern is lost to aliasing): restoring the hard
edges of patterns the input still shows is what a super-resolution network can learn, and
bicubic upsampling cannot do.

Files: ``root/train``, ``root/val``, ``root/test`` (high-resolution PNGs, served through
:class:`~translate_srgan.data.SRDataset`), ``root/test_inputs`` (the test images bicubically
downsampled by ``scale``, for ``translate infer``) and ``root/manifest.json``
(:func:`translate.api.ensure_generated`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from translate.api import SHAPE_KINDS, DataError, ensure_generated, list_images, place_shapes, shape_mask

from .data import SRDataset, bicubic_downsample, to_uint8_image
from .options import SRShapesOptions

DATASET_NAME = "sr_shapes"
GENERATOR_VERSION = 2  # 2: texture periods 12-24 (were 6-16, mostly below the 4x input's Nyquist limit)
SUPERSAMPLE = 2
#: Texture periods in high-resolution pixels (uniform in the range): at least 3 input pixels at 4x.
SHAPE_PERIOD, BACKGROUND_PERIOD = (12.0, 24.0), (20.0, 32.0)
SPLITS = {"train": 1, "val": 2, "test": 3}
PARAMETERS = ("seed", "count", "val_count", "test_count", "image_size", "scale")
LIMITATION = (f"It was trained on synthetic textured shapes (`{DATASET_NAME}`): a demonstration and test model, "
              "not meant for photographs.")


def _texture(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, period: tuple[float, float]) -> np.ndarray:
    """0/1 pattern over pixel offsets ``x``, ``y`` from a centre: stripes, checkerboard or rings, random phase."""
    kind = int(rng.integers(3))
    p = float(rng.uniform(*period))
    phi = float(rng.uniform(0, np.pi))
    u, v = x * np.cos(phi) + y * np.sin(phi), -x * np.sin(phi) + y * np.cos(phi)
    u0, v0 = rng.uniform(0, p, size=2)
    if kind == 0:
        return (np.floor((u + u0) / p * 2) % 2).astype(np.float32)
    if kind == 1:
        return ((np.floor((u + u0) / p) + np.floor((v + v0) / p)) % 2).astype(np.float32)
    r = np.hypot(x, y)
    return (np.floor((r + u0) / p * 2) % 2).astype(np.float32)


def _colours(rng: np.random.Generator, contrast: float) -> tuple[np.ndarray, np.ndarray]:
    base = rng.uniform(0.15, 0.85, size=3).astype(np.float32)
    other = np.clip(base + rng.choice([-1, 1], size=3) * contrast * rng.uniform(0.5, 1.0, size=3), 0, 1)
    return base, other.astype(np.float32)


def render(rng: np.random.Generator, size: int) -> np.ndarray:
    """One high-resolution image, ``(size, size, 3)`` float32 in [0, 1]."""
    s = size * SUPERSAMPLE
    yy, xx = (np.mgrid[0:s, 0:s].astype(np.float32) + 0.5) / SUPERSAMPLE
    c1, c2 = _colours(rng, 0.25)
    t = _texture(rng, xx - size / 2, yy - size / 2, BACKGROUND_PERIOD)
    img = c1 * (1 - t[..., None]) + c2 * t[..., None]
    for shape in place_shapes(rng, size, radius=(0.14, 0.26), gap=2):
        dx, dy = (xx - shape.cx) / shape.r, (yy - shape.cy) / shape.r
        mask = shape_mask(SHAPE_KINDS[shape.kind], dx, dy, shape.theta)
        c1, c2 = _colours(rng, 0.7)
        t = _texture(rng, xx - shape.cx, yy - shape.cy, SHAPE_PERIOD)
        img[mask] = (c1 * (1 - t[..., None]) + c2 * t[..., None])[mask]
    return img.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))


def _expected(params: dict[str, Any]) -> dict[str, int]:
    return {"train": params["count"], "val": params["val_count"], "test": params["test_count"],
            "test_inputs": params["test_count"]}


def write_textures(folder: Path, params: dict[str, Any]) -> None:
    """Write the set's images into ``folder`` (``ensure_generated`` adds the manifest)."""
    counts = _expected(params)
    for split, word in SPLITS.items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        if split == "test":
            (folder / "test_inputs").mkdir(parents=True, exist_ok=True)
        for i in range(counts[split]):
            hr = to_uint8_image(render(np.random.default_rng([params["seed"], word, i]), params["image_size"]))
            Image.fromarray(hr).save(folder / split / f"{i:05d}.png")
            if split == "test":
                Image.fromarray(bicubic_downsample(hr, params["scale"])).save(folder / "test_inputs" / f"{i:05d}.png")


def build_sr_shapes(options: SRShapesOptions, *, split: str) -> SRDataset:
    """Factory of ``sr_shapes``: generate if needed, then serve like ``sr_folder``."""
    if split not in SPLITS:
        raise DataError(f"{DATASET_NAME} has the splits 'train', 'val' and 'test', not {split!r}")
    params = {"generator_version": GENERATOR_VERSION, **options.model_dump(include=set(PARAMETERS))}
    ensure_generated(options.root, params, dataset=DATASET_NAME, expected=_expected(params),
                     generate=functools.partial(write_textures, params=params))
    files = list_images(Path(options.root) / split)[: options.max_items]
    if not files:
        raise DataError(f"{DATASET_NAME}: the {split} split is empty (test_count = 0?)")
    return SRDataset(files, options, split, folder=Path(options.root).name or None, limitations=(LIMITATION,))

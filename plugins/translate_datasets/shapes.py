"""``synthetic_shapes``: the quickstart data set, generated from a seed (no downloads).

B: two to four non-overlapping filled shapes on a light background. Each shape's colour is
fixed by its type (circle red, square blue, triangle green, ellipse amber), shaded by a light
from the top left, rendered with 2x supersampling. A: the edge drawing of B (dark lines on
white), from Canny edges (kornia) of B's luminance. So the mapping A -> B is learnable: the
outline tells the shape type, the type tells the colour.

Files (served like ``paired_ab``): ``root/train/*.png``, ``root/val/*.png`` and ``root/test/*.png``
(A|B pairs), ``root/test_inputs/*.png`` (the A halves of the test pairs, for ``translate infer``, so
its outputs can be compared with the test targets) and ``root/manifest.json`` holding the
generation parameters. A folder whose manifest differs is regenerated: into a
temporary folder beside it, then swapped in by renaming (see :mod:`translate.data.generated`).
Images are rendered and written :data:`CHUNK` at a time, so memory does not grow with the count
(the files do not depend on the chunk size).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from translate.api import DataError, ensure_generated, paint_shape, place_shapes, to_uint8

from .options import ShapesOptions

DATASET_NAME = "synthetic_shapes"
DOMAINS = ("edges", "filled shapes")
"""The names of domain A (edge drawings) and B (the shaded shapes), recorded in the models trained on it."""
SYNTHETIC_LIMITATION = (f"It was trained on synthetic data (`{DATASET_NAME}`): a demonstration and test model, "
                        "not meant for real images.")
GENERATOR_VERSION = 2
"""1: train, val, test_inputs; 2: also the test pairs (test_inputs are unchanged)."""
COLOURS = np.array(
    [[0.86, 0.20, 0.18], [0.18, 0.36, 0.86], [0.16, 0.62, 0.26], [0.95, 0.62, 0.10]], dtype=np.float32
)
BACKGROUND = np.array([0.95, 0.94, 0.91], dtype=np.float32)
SUPERSAMPLE = 2
CHUNK = 64
"""Images rendered (and edge-detected) together before they are written."""
_SPLITS = {"train": 1, "val": 2, "test": 3}
"""Split -> the second word of its images' seeds (test pairs keep the key the test inputs always had)."""
SPLITS = ("train", "val", "test")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


PARAMETERS = ("seed", "count", "val_count", "test_count", "image_size")
"""The options that define the generated files (with the generator version, they form the manifest)."""


def _expected(params: dict[str, Any]) -> dict[str, int]:
    """Image count of each folder."""
    return {"train": params["count"], "val": params["val_count"], "test": params["test_count"],
            "test_inputs": params["test_count"]}


def write_shapes(folder: Path, params: dict[str, Any]) -> None:
    """Write the images of the set into ``folder`` (``ensure_generated`` adds the manifest)."""
    seed, size = params["seed"], params["image_size"]
    counts = _expected(params)
    for split in SPLITS:
        out = folder / split
        out.mkdir(parents=True, exist_ok=True)
        inputs = folder / "test_inputs"
        if split == "test":
            inputs.mkdir(parents=True, exist_ok=True)
        for start in range(0, counts[split], CHUNK):  # a chunk at a time: memory stays flat, whatever the count
            stop = min(start + CHUNK, counts[split])
            b = np.stack([render_shapes(np.random.default_rng([seed, _SPLITS[split], i]), size)
                          for i in range(start, stop)])
            a = edge_drawings(b)
            for i in range(start, stop):
                Image.fromarray(to_uint8(np.concatenate([a[i - start], b[i - start]], axis=1))).save(out / f"{i:05d}.png")
                if split == "test":
                    Image.fromarray(to_uint8(a[i - start])).save(inputs / f"{i:05d}.png")


def render_shapes(rng: np.random.Generator, size: int) -> np.ndarray:
    """One B image: ``(size, size, 3)`` float32 in [0, 1]."""
    s = size * SUPERSAMPLE
    img = np.broadcast_to(BACKGROUND, (s, s, 3)).copy()
    for shape in place_shapes(rng, size, radius=(0.11, 0.19), gap=2):
        paint_shape(img, shape, COLOURS[shape.kind], supersample=SUPERSAMPLE, light=(0.55, 1.08))
    return img.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))


def edge_drawings(b: np.ndarray) -> np.ndarray:
    """A images from B images ``(N, H, W, 3)``: black Canny edges of the luminance on white."""
    import kornia
    import torch

    gray = torch.from_numpy(np.ascontiguousarray(b @ _LUMA, dtype=np.float32))[:, None]
    with torch.no_grad():
        # Shading gradients stay below 0.35 and outlines above 0.6 (kornia's Sobel units): one
        # threshold between them separates the two, so the slow hysteresis loop is not needed.
        _, edges = kornia.filters.canny(gray, low_threshold=0.45, high_threshold=0.45, hysteresis=False)
    a = 1.0 - edges[:, 0].numpy()
    return np.repeat(a[..., None], 3, axis=3).astype(np.float32)


def build_shapes(options: ShapesOptions, *, split: str) -> Any:
    """Factory of ``synthetic_shapes``: generate if needed, then serve like ``paired_ab``."""
    from .paired import PairedABDataset

    if split not in SPLITS:
        raise DataError(f"{DATASET_NAME} has the splits 'train', 'val' and 'test', not {split!r}")
    params = {"generator_version": GENERATOR_VERSION, **options.model_dump(include=set(PARAMETERS))}
    generate = functools.partial(write_shapes, params=params)
    ensure_generated(options.root, params, dataset=DATASET_NAME, expected=_expected(params), generate=generate)
    dataset = PairedABDataset(options, split)
    dataset.info = dataclasses.replace(dataset.info, limitations=(SYNTHETIC_LIMITATION,), domains=DOMAINS)
    return dataset

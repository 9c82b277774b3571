"""The generated day/night set ``synthetic_unpaired`` of the CycleGAN plugin (no download).

Domain A ("day") shows two to four filled shapes in warm colours on a light sky-blue sky over green
hills, with a yellow sun; domain B ("night") shows *other* random scenes of the same kinds with a dark
navy sky, dark hills, shapes in cool desaturated colours, a pale crescent moon and a few stars. Each
shape kind has a fixed colour per domain, so the change of domain is visible and learnable. Files:
``trainA/``, ``trainB/``, ``testA/``, ``testB/`` (PNG), the ground truth of the test scenes
(``testA_night/``: each ``testA`` scene by night, ``testB_day/``: each ``testB`` scene by day, same file
names) and ``manifest.json`` holding the generation parameters; a folder whose manifest differs is
regenerated into a temporary folder beside it, then swapped in by renaming (see
:mod:`translate.data.generated`). Training reads it unpaired, like ``unpaired``; its val and test
splits are aligned (each input with its own ground truth), so PSNR and SSIM evaluate it offline.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from translate.api import DataError, ensure_generated, paint_shape, place_shapes, resolve_key, to_tensor, to_uint8

from .data_options import SyntheticUnpairedOptions
from .unpaired import UnpairedDataset

DATASET_NAME = "synthetic_unpaired"
SYNTHETIC_LIMITATION = (f"It was trained on synthetic data (`{DATASET_NAME}`): a demonstration and test model, "
                        "not meant for real images.")
GENERATOR_VERSION = 2  # 2: the test scenes' ground truth (TRUTH_FOLDERS)
SUPERSAMPLE = 2

# domain A, "day": warm shape colours (by kind), sky gradient top -> horizon, green hills, yellow sun
DAY = {
    "shapes": np.array([[0.89, 0.20, 0.14], [0.97, 0.55, 0.08], [0.90, 0.30, 0.58], [0.78, 0.44, 0.10]], np.float32),
    "sky": (np.array([0.50, 0.76, 0.95], np.float32), np.array([0.80, 0.91, 0.98], np.float32)),
    "ground": np.array([0.42, 0.70, 0.32], np.float32),
    "body": np.array([1.00, 0.85, 0.15], np.float32),
    "glow": np.array([1.00, 0.96, 0.70], np.float32),
    "light": (0.62, 1.05),  # shading range: darkest, brightest
}
# domain B, "night": cool desaturated shape colours, dark navy sky, dark hills, pale moon, stars
NIGHT = {
    "shapes": np.array([[0.42, 0.50, 0.68], [0.35, 0.57, 0.60], [0.53, 0.47, 0.68], [0.46, 0.58, 0.51]], np.float32),
    "sky": (np.array([0.02, 0.04, 0.14], np.float32), np.array([0.09, 0.12, 0.28], np.float32)),
    "ground": np.array([0.05, 0.11, 0.12], np.float32),
    "body": np.array([0.94, 0.94, 0.84], np.float32),
    "glow": np.array([0.30, 0.33, 0.45], np.float32),
    "light": (0.60, 1.00),
}
_DOMAINS = {"A": (1, DAY, "day"), "B": (2, NIGHT, "night")}
_SPLITS = {"train": 1, "test": 2}


def synthetic_params(seed: int, count_a: int, count_b: int, test_count: int, image_size: int,
                     ground_truth: bool = True) -> dict[str, Any]:
    """The generation parameters (the manifest holds them and the data set's name)."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "count_a": count_a,
        "count_b": count_b,
        "test_count": test_count,
        "image_size": image_size,
        "ground_truth": ground_truth,
    }


TRUTH_FOLDERS = {"testA": "testA_night", "testB": "testB_day"}
"""The ground truth of the test scenes: ``testA_night/`` holds each ``testA`` (day) scene by night, under the same
file name, ``testB_day/`` each ``testB`` (night) scene by day."""
_EXTRAS = 3  # the seed part of the moon and stars a day scene gets by night


def _expected(params: dict[str, Any]) -> dict[str, int]:
    t = params["test_count"]
    truths = {truth: t for truth in TRUTH_FOLDERS.values()} if params.get("ground_truth", True) else {}
    return {"trainA": params["count_a"], "trainB": params["count_b"], "testA": t, "testB": t, **truths}


def write_synthetic(folder: Path, params: dict[str, Any]) -> None:
    """Write the images of the set into ``folder`` (``ensure_generated`` adds the manifest): each domain's
    scenes, and the test scenes painted in the other domain's style (:data:`TRUTH_FOLDERS`)."""
    seed, size = params["seed"], params["image_size"]
    counts = _expected(params)
    for sub in ("trainA", "trainB", "testA", "testB"):
        split, domain = sub[:-1], sub[-1]
        code, _, word = _DOMAINS[domain]
        out = folder / sub
        out.mkdir(parents=True, exist_ok=True)
        truth = folder / TRUTH_FOLDERS[sub] if sub in TRUTH_FOLDERS and TRUTH_FOLDERS[sub] in counts else None
        if truth is not None:
            truth.mkdir(parents=True, exist_ok=True)
        for i in range(counts[sub]):
            key = [seed, code, _SPLITS[split], i]
            image = render_scene(np.random.default_rng(key), size, domain)
            Image.fromarray(to_uint8(image)).save(out / f"{word}_{i:05d}.png", compress_level=1)
            if truth is not None:
                other = "B" if domain == "A" else "A"
                image = render_scene(np.random.default_rng(key), size, domain, painted_as=other,
                                     extras=np.random.default_rng([*key, _EXTRAS]))
                Image.fromarray(to_uint8(image)).save(truth / f"{word}_{i:05d}.png", compress_level=1)


def render_scene(rng: np.random.Generator, size: int, domain: str, *, painted_as: str | None = None,
                 extras: np.random.Generator | None = None) -> np.ndarray:
    """One image of domain ``"A"`` (day) or ``"B"`` (night): ``(size, size, 3)`` float32 in [0, 1].

    ``painted_as`` paints the scene ``rng`` draws for ``domain`` in the other domain's style:
    ``render_scene(rng, size, "A", painted_as="B", extras=...)`` is that day scene by night (its moon's
    side and its stars drawn from ``extras``), ``render_scene(rng, size, "B", painted_as="A")`` that night
    scene by day (the night's extra draws are made and left unpainted). Hills, sun or moon and shapes
    stay where they were, so each scene has its ground truth in both domains.
    """
    painted = painted_as or domain
    if painted not in _DOMAINS or domain not in _DOMAINS:
        raise ValueError(f"domains are 'A' and 'B', got {domain!r} painted as {painted!r}")
    night = rng if domain == "B" else extras  # draws the moon's side and the stars
    if painted == "B" and night is None:
        raise ValueError("a day scene painted by night needs an `extras` generator for its moon and stars")
    style = _DOMAINS[painted][1]
    s = size * SUPERSAMPLE
    yy, xx = _grid(size)
    # sky: vertical gradient down to a hilly horizon
    horizon = size * float(rng.uniform(0.70, 0.80))
    amp, freq, phase = size * float(rng.uniform(0.02, 0.06)), float(rng.uniform(0.6, 1.6)), float(rng.uniform(0, 6.3))
    ground_y = horizon + amp * np.sin(2 * np.pi * freq * xx[0] / size + phase)  # (s,)
    top, low = style["sky"]
    t = np.clip(yy[:, :1] / horizon, 0.0, 1.0)[..., None]  # (s, 1, 1)
    sky = top + (low - top) * t
    depth = (yy - ground_y[None, :]) / max(size - horizon, 1.0)
    ground = depth >= 0
    land = style["ground"] * (1.0 - 0.25 * np.minimum(depth, 1.0)[..., None])
    img = np.where(ground[..., None], land, sky).astype(np.float32)
    # sun or moon in the upper sky, with a glow; computed on its bounding box only
    r_body = size * float(rng.uniform(0.08, 0.11))
    bx = size * float(rng.uniform(0.15, 0.85))
    by = size * float(rng.uniform(0.12, 0.28))
    y0, y1, x0, x1 = _box(by, bx, 2.5 * r_body, s)
    wy, wx = yy[y0:y1, x0:x1], xx[y0:y1, x0:x1]
    window = img[y0:y1, x0:x1]
    dist = np.hypot(wx - bx, wy - by)
    glow = np.clip(1.0 - (dist - r_body) / (1.4 * r_body), 0.0, 1.0) ** 2 * (dist > r_body) * ~ground[y0:y1, x0:x1]
    window += (style["glow"] - window) * (0.55 * glow)[..., None]
    body = dist <= r_body
    if night is not None:
        # a crescent: the disc minus an offset disc
        side = 1.0 if night.random() < 0.5 else -1.0
        if painted == "B":
            body &= np.hypot(wx - bx - side * 0.5 * r_body, wy - by + 0.15 * r_body) > 0.88 * r_body
    window[body] = style["body"]
    if night is not None:
        # stars: a few small bright dots in the sky, away from the moon
        for _ in range(int(night.integers(5, 12))):
            sx, sy = size * float(night.uniform(0.03, 0.97)), float(night.uniform(0.03, 0.6)) * horizon
            if np.hypot(sx - bx, sy - by) > 2.6 * r_body:
                y0, y1, x0, x1 = _box(sy, sx, 1.0, s)
                star = np.hypot(xx[y0:y1, x0:x1] - sx, yy[y0:y1, x0:x1] - sy) <= 0.55
                brightness = float(night.uniform(0.65, 1.0))
                if painted == "B":
                    img[y0:y1, x0:x1][star] = brightness * np.array([0.95, 0.95, 1.0], np.float32)
    # shapes: two to four, not overlapping each other nor the sun/moon
    for shape in place_shapes(rng, size, radius=(0.10, 0.16), gap=1, top=0.3, keep_clear=((bx, by, 1.6 * r_body),)):
        paint_shape(img, shape, style["shapes"][shape.kind], supersample=SUPERSAMPLE, light=style["light"])
    img = sum(img[i::SUPERSAMPLE, j::SUPERSAMPLE] for i in range(SUPERSAMPLE) for j in range(SUPERSAMPLE))
    return np.clip(img / SUPERSAMPLE**2, 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Supersampled pixel-centre coordinates ``(yy, xx)`` in final-image pixel units (read-only)."""
    s = size * SUPERSAMPLE
    yy, xx = (np.mgrid[0:s, 0:s].astype(np.float32) + 0.5) / SUPERSAMPLE
    yy.flags.writeable = xx.flags.writeable = False
    return yy, xx


def _box(cy: float, cx: float, reach: float, s: int) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)``: the supersampled pixel box around a centre (final-image units)."""
    y0, y1 = (int(np.clip(v * SUPERSAMPLE, 0, s)) for v in (cy - reach, cy + reach))
    x0, x1 = (int(np.clip(v * SUPERSAMPLE, 0, s)) for v in (cx - reach, cx + reach))
    return y0, y1, x0, x1


def build_synthetic_unpaired(options: SyntheticUnpairedOptions, split: str) -> UnpairedDataset:
    """Factory body of ``synthetic_unpaired``: generate if needed, then serve like ``unpaired``."""
    if split not in ("train", "val", "test"):
        raise DataError(f"{DATASET_NAME} has the splits 'train', 'val' and 'test' (val and test: testA/testB), not {split!r}")
    params = synthetic_params(options.seed, options.count_a, options.count_b, options.test_count, options.image_size,
                              options.ground_truth)
    generate = functools.partial(write_synthetic, params=params)
    ensure_generated(options.root, params, dataset=DATASET_NAME, expected=_expected(params), generate=generate)
    return SyntheticUnpairedDataset(options, split)


class SyntheticUnpairedDataset(UnpairedDataset):
    """``synthetic_unpaired``: an unpaired set for training; on the val and test splits (with ``ground_truth``,
    the default) each item also holds the ground truth of its scenes (``truth_B``: the A scene by night,
    ``truth_A``: the B scene by day), so full-reference metrics (PSNR, SSIM) evaluate both directions
    (``DataInfo.aligned``)."""

    def __init__(self, options: SyntheticUnpairedOptions, split: str) -> None:
        super().__init__(options, split)
        root = Path(options.root)
        self.truth: tuple[list[Path], list[Path]] | None = None
        extra: dict[str, Any] = {}
        if split != "train" and options.ground_truth:  # val and test read testA/testB
            self.truth = ([root / TRUTH_FOLDERS["testA"] / p.name for p in self.files_a],
                          [root / TRUTH_FOLDERS["testB"] / p.name for p in self.files_b])
            extra = {"translations": (("AtoB", "A", "truth_B"), ("BtoA", "B", "truth_A")), "aligned": True}
        self.info = dataclasses.replace(self.info, limitations=(SYNTHETIC_LIMITATION,), domains=("day", "night"),
                                        **extra)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        item = super().__getitem__(key)
        if self.truth is not None:
            index_a, index_b, seed_a, seed_b = self.pick(*resolve_key(key, len(self)))
            item["truth_B"] = to_tensor(self._load(self.truth[0][index_a], self.channels["B"], seed_a))
            item["truth_A"] = to_tensor(self._load(self.truth[1][index_b], self.channels["A"], seed_b))
        return item


__all__ = ["DATASET_NAME", "SyntheticUnpairedDataset", "TRUTH_FOLDERS", "build_synthetic_unpaired", "render_scene",
           "synthetic_params", "write_synthetic"]

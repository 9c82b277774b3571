"""Unpaired data sets for CycleGAN: ``unpaired`` (trainA/trainB folders) and the generated ``synthetic_unpaired``.

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

``synthetic_unpaired`` generates (from a seed, no download) a day -> night set: domain A
("day") shows two to four filled shapes in warm colours on a light sky-blue sky over green
hills, with a yellow sun; domain B ("night") shows *other* random scenes of the same kinds
with a dark navy sky, dark hills, shapes in cool desaturated colours, a pale crescent moon
and a few stars. Each shape kind has a fixed colour per domain, so the change of domain is
visible and learnable. Files: ``trainA/``, ``trainB/``, ``testA/``, ``testB/`` (PNG) and
``manifest.json`` holding the generation parameters; a folder whose manifest differs is
regenerated into a temporary folder beside it, then swapped in by renaming (see
:mod:`translate.data.generated`).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from translate.api import (
    IMAGE_EXTENSIONS,
    DataError,
    DataInfo,
    ensure_generated,
    file_formats,
    list_images,
    paint_shape,
    place_shapes,
    read_image,
    resolve_key,
    to_tensor,
    to_uint8,
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
                             file_formats=file_formats({"A": self.files_a, "B": self.files_b}))

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


# --------------------------------------------------------------------------- synthetic_unpaired

DATASET_NAME = "synthetic_unpaired"
SYNTHETIC_LIMITATION = (f"It was trained on synthetic data (`{DATASET_NAME}`): a demonstration and test model, "
                        "not meant for real images.")
GENERATOR_VERSION = 1
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


def synthetic_params(seed: int, count_a: int, count_b: int, test_count: int, image_size: int) -> dict[str, Any]:
    """The generation parameters (the manifest holds them and the data set's name)."""
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "count_a": count_a,
        "count_b": count_b,
        "test_count": test_count,
        "image_size": image_size,
    }


def _expected(params: dict[str, Any]) -> dict[str, int]:
    t = params["test_count"]
    return {"trainA": params["count_a"], "trainB": params["count_b"], "testA": t, "testB": t}


def write_synthetic(folder: Path, params: dict[str, Any]) -> None:
    """Write the images of the set into ``folder`` (``ensure_generated`` adds the manifest)."""
    seed, size = params["seed"], params["image_size"]
    for sub, n in _expected(params).items():
        split, domain = sub[:-1], sub[-1]
        code, _, word = _DOMAINS[domain]
        out = folder / sub
        out.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rng = np.random.default_rng([seed, code, _SPLITS[split], i])
            image = render_scene(rng, size, domain)
            Image.fromarray(to_uint8(image)).save(out / f"{word}_{i:05d}.png", compress_level=1)


def render_scene(rng: np.random.Generator, size: int, domain: str) -> np.ndarray:
    """One image of domain ``"A"`` (day) or ``"B"`` (night): ``(size, size, 3)`` float32 in [0, 1]."""
    style = _DOMAINS[domain][1]
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
    if domain == "B":
        # a crescent: the disc minus an offset disc
        side = 1.0 if rng.random() < 0.5 else -1.0
        cut = np.hypot(wx - bx - side * 0.5 * r_body, wy - by + 0.15 * r_body) > 0.88 * r_body
        body = (dist <= r_body) & cut
    else:
        body = dist <= r_body
    window[body] = style["body"]
    if domain == "B":
        # stars: a few small bright dots in the sky, away from the moon
        for _ in range(int(rng.integers(5, 12))):
            sx, sy = size * float(rng.uniform(0.03, 0.97)), float(rng.uniform(0.03, 0.6)) * horizon
            if np.hypot(sx - bx, sy - by) > 2.6 * r_body:
                y0, y1, x0, x1 = _box(sy, sx, 1.0, s)
                star = np.hypot(xx[y0:y1, x0:x1] - sx, yy[y0:y1, x0:x1] - sy) <= 0.55
                img[y0:y1, x0:x1][star] = float(rng.uniform(0.65, 1.0)) * np.array([0.95, 0.95, 1.0], np.float32)
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
    params = synthetic_params(options.seed, options.count_a, options.count_b, options.test_count, options.image_size)
    generate = functools.partial(write_synthetic, params=params)
    ensure_generated(options.root, params, dataset=DATASET_NAME, expected=_expected(params), generate=generate)
    dataset = UnpairedDataset(options, split)
    dataset.info = dataclasses.replace(dataset.info, limitations=(SYNTHETIC_LIMITATION,))
    return dataset

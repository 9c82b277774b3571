"""Paired low/high-resolution items from any folder of images: the ``sr_folder`` data set.

Each item is a high-resolution (HR) crop, the ``target``, and its bicubic downsample by
``scale``, the ``input`` (LR), both ``(C, H, W)`` in [-1, 1]: ``target`` is ``scale`` times
``input`` on each side. Train split: a random crop of ``crop_size`` (and a random flip when
``flip``), drawn from the item's seed; val/test: the centre crop of ``eval_crop_size``, or the
whole image trimmed at the right and bottom to multiples of ``scale``.

**Downsampling: Pillow, not kornia.** The LR image is ``PIL.Image.resize(..., BICUBIC)`` of the
8-bit HR crop, rounded to 8 bits like a saved LR file. Pillow's bicubic is Keys' cubic with
``a = -0.5`` and, when reducing, stretches the kernel by the factor (antialiasing), which is
what MATLAB's ``imresize(hr, 1/scale, 'bicubic')`` does; the SR literature (SRGAN, EDSR, the
DIV2K ``LR_bicubic`` files) makes its inputs with that MATLAB call. Measured against a NumPy
port of it (``tests/plugins/translate_srgan/test_srgan.py``) on random 8-bit images: away from the 2 outermost pixels,
99.9% of the values agree within 1 grey level and none differs by more than 3 (Pillow rounds and
clips to 8 bits between its horizontal and vertical passes); the outermost pixels differ by up
to about 20 (MATLAB mirrors the image, Pillow renormalises the truncated kernel).
kornia's ``rescale(antialias=True)`` blurs with a Gaussian, then interpolates with ``a = -0.75``
(PyTorch's bicubic), which is a different, softer low-resolution image; and the LR image is
made once per item on the CPU, in the data loader workers, where Pillow is fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from translate.api import IMAGE_EXTENSIONS, DataError, DataInfo, list_images, read_image, resolve_key, to_tensor

from .options import SRFolderOptions, SRServeOptions


def bicubic_downsample(hr: np.ndarray, scale: int) -> np.ndarray:
    """``(H, W, C)`` uint8 -> ``(H / scale, W / scale, C)`` uint8, Pillow BICUBIC (antialiased); H, W multiples of scale."""
    h, w, c = hr.shape
    if h % scale or w % scale:
        raise ValueError(f"image size {w}x{h} is not a multiple of the scale {scale}")
    img = Image.fromarray(hr[:, :, 0] if c == 1 else hr)
    lr = np.asarray(img.resize((w // scale, h // scale), Image.Resampling.BICUBIC))
    return lr.reshape(h // scale, w // scale, c)


def to_uint8_image(arr: np.ndarray) -> np.ndarray:
    """Image-space float ``(H, W, C)`` in [0, 1] -> uint8 (exact for 8-bit files)."""
    return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


class SRDataset(torch.utils.data.Dataset):
    """Items ``{"input": LR, "target": HR, "name": stem}`` from a list of image files (see the module doc)."""

    def __init__(self, files: list[Path], options: SRServeOptions, split: str, *, folder: str | None,
                 limitations: tuple[str, ...] = ()) -> None:
        self.files = files
        self.names = [p.stem for p in files]
        self.scale = options.scale
        self.train = split == "train"
        self.crop = options.crop_size if self.train else (None if options.full_eval_images else options.eval_size())
        self.flip = options.flip and self.train
        c = options.channels
        self.channels: dict[str, int] = {"input": c, "target": c}
        self.info = DataInfo(image_size=options.crop_size, scale=options.scale, direction="AtoB", folder=folder,
                             limitations=limitations, translations=(("AtoB", "input", "target"),), aligned=True)

    def __len__(self) -> int:
        return len(self.files)

    def high_resolution(self, index: int, seed: int) -> np.ndarray:
        """The HR crop of item ``index`` (uint8 ``(H, W, C)``), drawn from ``seed`` on the train split."""
        path = self.files[index]
        img = to_uint8_image(read_image(path, channels=self.channels["target"]))
        h, w = img.shape[:2]
        if self.crop is None:
            hh, ww = h - h % self.scale, w - w % self.scale
            if not hh or not ww:
                raise DataError(f"image {path} is {w}x{h}: smaller than the scale {self.scale}")
            return img[:hh, :ww]
        if h < self.crop or w < self.crop:
            raise DataError(f"image {path} is {w}x{h}, smaller than the {self.crop}x{self.crop} crop "
                            f"(lower crop_size / eval_crop_size, or set full_eval_images)")
        rng = np.random.default_rng([seed, 0x5256])
        if self.train:
            top, left = int(rng.integers(0, h - self.crop + 1)), int(rng.integers(0, w - self.crop + 1))
        else:
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
        crop = img[top:top + self.crop, left:left + self.crop]
        if self.flip and rng.random() < 0.5:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop)

    def __getitem__(self, key: Any) -> dict[str, Any]:
        index, seed = resolve_key(key, len(self))
        hr = self.high_resolution(index, seed)
        lr = bicubic_downsample(hr, self.scale)
        return {"input": to_tensor(lr.astype(np.float32) / 255.0), "target": to_tensor(hr.astype(np.float32) / 255.0),
                "name": self.names[index]}


def split_folder(options: SRFolderOptions, split: str) -> Path:
    """Where the images of ``split`` are (see :class:`SRFolderOptions`)."""
    root = Path(options.root)
    if split in options.split_folders:
        folder = root / options.split_folders[split]
        if not folder.is_dir():
            raise DataError(f"data.options.split_folders.{split}: folder {folder} not found")
        return folder
    if (root / split).is_dir():
        return root / split
    if not root.is_dir():
        raise DataError(f"data folder {root} not found (sr_folder reads any folder of images; for DIV2K: "
                        f"`translate data download DIV2K_train_HR` and `... DIV2K_valid_HR`)")
    if options.split_folders:
        raise DataError(f"data.options.split_folders names {sorted(options.split_folders)}, not the split "
                        f"{split!r}, and {root / split} does not exist")
    return root


def build_sr_folder(options: SRFolderOptions, *, split: str) -> SRDataset:
    """Factory of ``sr_folder``."""
    folder = split_folder(options, split)
    files = list_images(folder)[: options.max_items]
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) in data folder {folder}")
    return SRDataset(files, options, split, folder=folder.name or None)

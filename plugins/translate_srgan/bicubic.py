"""The bicubic baseline: PSNR and SSIM of bicubic upsampling on a split, the figures an SR model has to beat.

::

    translate bicubic-baseline data/sr_shapes            # a generated sr_shapes folder (its manifest)
    translate bicubic-baseline data/DIV2K_valid_HR --scale 4 --crop-size 384

Each low-resolution input is upsampled with Pillow's BICUBIC (Keys a = -0.5, as MATLAB's
``imresize``, the usual baseline of the SR literature) on its 8-bit values, then compared with the
high-resolution target as the ``psnr`` and ``ssim`` metrics do: images in [0, 1], data range 1,
the mean of per-image values, SSIM with an 11-pixel Gaussian window of sigma 1.5 (torchmetrics).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from translate.api import TranslateError

from .data import SRDataset, build_sr_folder
from .options import SRFolderOptions, SRShapesOptions


def bicubic_upsample(lr: np.ndarray, scale: int) -> np.ndarray:
    """``(h, w, C)`` uint8 -> ``(scale * h, scale * w, C)`` uint8 with Pillow BICUBIC."""
    h, w, c = lr.shape
    img = Image.fromarray(lr[:, :, 0] if c == 1 else lr).resize((w * scale, h * scale), Image.Resampling.BICUBIC)
    return np.asarray(img).reshape(h * scale, w * scale, c)


def scores(dataset: SRDataset) -> dict[str, float]:
    """Mean per-image PSNR (dB) and SSIM of bicubic upsampling over every item of ``dataset`` (index order)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    psnrs, ssims = [], []
    for i in range(len(dataset)):
        item = dataset[(i, i)]
        lr = np.round((item["input"].numpy().transpose(1, 2, 0) + 1) * 127.5).astype(np.uint8)
        up = torch.from_numpy(bicubic_upsample(lr, dataset.scale).transpose(2, 0, 1)[None] / 255.0).float()
        hr = (item["target"][None] + 1) / 2
        psnrs.append(float(peak_signal_noise_ratio(up, hr, data_range=1.0)))
        ssims.append(float(structural_similarity_index_measure(up, hr, data_range=1.0, kernel_size=11, sigma=1.5)))
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": len(psnrs)}


def _dataset(args: argparse.Namespace) -> SRDataset:
    folder = Path(args.folder)
    manifest = folder / "manifest.json"
    if manifest.is_file():  # a generated sr_shapes folder: the same options it was made with
        from .textures import DATASET_NAME, build_sr_shapes

        params: dict[str, Any] = json.loads(manifest.read_text())
        if params.get("dataset") != DATASET_NAME:
            raise TranslateError(f"{manifest} belongs to {params.get('dataset')!r}, not {DATASET_NAME}")
        keep = {k: v for k, v in params.items() if k in SRShapesOptions.model_fields}
        keep["crop_size"] = keep.get("image_size", 96)  # val/test are whole images; the train crop plays no part
        return build_sr_shapes(SRShapesOptions(root=str(folder), **keep), split=args.split)
    options = SRFolderOptions(root=str(folder), scale=args.scale, crop_size=args.crop_size,
                              full_eval_images=args.full)
    return build_sr_folder(options, split=args.split)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate bicubic-baseline``."""
    parser.add_argument("folder", help="a generated sr_shapes folder, or any folder of images (sr_folder)")
    parser.add_argument("--split", default="test", help="split to score (default: test)")
    parser.add_argument("--scale", type=int, default=4, help="sr_folder: downsampling factor (default 4)")
    parser.add_argument("--crop-size", type=int, default=96, help="sr_folder: centre crop side (default 96)")
    parser.add_argument("--full", action="store_true", help="sr_folder: whole images instead of centre crops")


def run(args: argparse.Namespace) -> int:
    """Print the bicubic baseline of a folder's split; a bad folder raises :class:`TranslateError`."""
    try:
        dataset = _dataset(args)
        result = scores(dataset)
    except ValueError as err:
        raise TranslateError(str(err)) from None
    print(f"bicubic x{dataset.scale} on {args.folder} ({args.split}, {result['images']} images): "
          f"psnr {result['psnr']:.2f} dB, ssim {result['ssim']:.4f}")
    return 0

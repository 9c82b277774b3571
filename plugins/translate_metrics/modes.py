"""clean-fid's three modes: how an image becomes Inception's input, and what each step is called.

A mode fixes the resize to Inception's 299x299 and the normalisation before the network (the network
side lives in :mod:`.inception`). The resize is clean-fid's own function
(``cleanfid.resize.build_resizer``), called per image on a uint8 ``H x W x 3`` array as clean-fid's
data loader does, followed by the same ``ToTensor`` conversion (``cleanfid.utils.ResizeDataset``): a
uint8 result becomes ``ToTensor(x) * 255``, a float32 result ``ToTensor(x)``. The tests check this
against clean-fid's data loader, pixel for pixel.
"""

from __future__ import annotations

import re
import warnings
from importlib.metadata import version
from pathlib import PurePath
from typing import Callable

import numpy as np
import torch

from translate.api import TranslateError

MODES = ("clean", "legacy_tensorflow", "legacy_pytorch")
"""clean-fid's mode names, which are also the values of the ``mode`` option."""

Resizer = Callable[[np.ndarray], np.ndarray]

RESIZE_STEP = {
    "clean": "PIL bicubic resize to 299x299 of each channel as a float32 image, not quantised, clipped to "
             "[0, 255] (clean-fid's build_resizer('clean'))",
    "legacy_tensorflow": "no resize before the network (clean-fid's build_resizer('legacy_tensorflow') is the "
                         "identity); uint8 -> float32 as ToTensor(x) * 255",
    "legacy_pytorch": "torch bilinear interpolate to 299x299 (align_corners=False, no antialiasing) on float32, "
                      "clipped to [0, 255] (clean-fid's build_resizer('legacy_pytorch'))",
}
NETWORK_STEP = {
    "clean": "input (x - 128) / 128, as clean-fid's InceptionV3W without resize_inside",
    "legacy_tensorflow": "inside the network, TensorFlow 1's resize_bilinear to 299x299 as NVIDIA's TorchScript "
                         "emulates it (affine_grid + grid_sample, bilinear, border padding, align_corners=False), "
                         "then (x - 128) / 128, as clean-fid's InceptionV3W with resize_inside",
    "legacy_pytorch": "input x / 255 then 2 x - 1, as pytorch-fid's InceptionV3 (normalize_input) called by "
                      "clean-fid as model(x / 255)",
}


def cleanfid_version() -> str:
    """``"clean-fid 0.1.35"``."""
    return f"clean-fid {version('clean-fid')}"


def build_resizer(mode: str) -> Resizer:
    """clean-fid's resize function of ``mode`` (uint8 ``H x W x 3`` array -> resized array).

    clean-fid's "legacy_pytorch" resizer switches every warning of the process off when it is built;
    the warning filters are restored here, so that only the resize itself is clean-fid's.
    """
    from cleanfid.resize import build_resizer as cleanfid_resizer

    if mode not in MODES:
        raise TranslateError(f"unknown clean-fid mode {mode!r}; expected one of {', '.join(MODES)}")
    with warnings.catch_warnings():
        return cleanfid_resizer(mode)


def network_input(image: np.ndarray, resize: Resizer) -> torch.Tensor:
    """One uint8 ``H x W x 3`` image -> float32 ``(3, h, w)`` in [0, 255], as clean-fid's data loader makes it."""
    from torchvision.transforms.functional import to_tensor

    resized = resize(image)
    if resized.dtype == np.uint8:
        return to_tensor(np.array(resized)) * 255
    if resized.dtype == np.float32:
        return to_tensor(resized)
    raise TranslateError(f"clean-fid's resize returned a {resized.dtype} image; expected uint8 or float32")


def preprocess(pixels: torch.Tensor, resize: Resizer) -> torch.Tensor:
    """uint8 ``(N, 3, H, W)`` images -> float32 ``(N, 3, h, w)`` network input (on the CPU), image by image."""
    arrays = pixels.permute(0, 2, 3, 1).cpu().numpy()
    return torch.stack([network_input(image, resize) for image in arrays])


def mode_in_name(name: str) -> str | None:
    """The clean-fid mode a statistics file's name says (``ffhq_clean_trainval_1024.npz`` -> ``"clean"``).

    clean-fid names its published files ``{dataset}_{mode}_{split}_{res}.npz`` (FID) and
    ``..._kid.npz`` (KID). The mode names are looked for in the file name (not its folders) as whole
    words between ``_``, ``-`` or ``.``, the longest first. None when the name holds none of them.
    """
    lowered = PurePath(name).name.lower()
    for mode in sorted(MODES, key=len, reverse=True):
        if re.search(rf"(?:^|[_.\-]){mode}(?:[_.\-]|$)", lowered):
            return mode
    return None


QUANTISE_STEP = "images in [-1, 1] quantised to uint8 [0, 255] (as saved PNGs), grey repeated to RGB"


def mode_steps(mode: str, feature: int) -> list[str]:
    """What ``mode`` does to an image, step by step, in words (recorded in the protocol)."""
    layer = ("2048 features of the final average pool (clean-fid's)" if feature == 2048 else
             f"{feature} features: torch-fidelity's average pool after "
             f"{ {64: 'MaxPool_1', 192: 'MaxPool_2', 768: 'Mixed_6e'}[feature]} (clean-fid offers 2048 only)")
    return [QUANTISE_STEP, RESIZE_STEP[mode], NETWORK_STEP[mode],
            f"torch-fidelity's port of the TensorFlow Inception graph 2015-12-05, {layer}; features kept as float32",
            "statistics: mu = np.mean, sigma = np.cov (clean-fid's); distance: clean-fid's frechet_distance "
            "(FID) or kernel_distance (KID)"]

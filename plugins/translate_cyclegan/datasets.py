"""The unpaired data sets of the CycleGAN plugin: ``unpaired`` and the generated ``synthetic_unpaired``.

Only the options models are imported here; torch and albumentations load inside the
factories, so ``translate --help`` and ``translate plugins`` stay fast. The plugin's
``register_datasets`` hook registers every entry of :data:`DATASETS`::

    for name, factory, options, smoke, description in DATASETS:
        register(name, factory, options=options, smoke_options=smoke, description=description)
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

from .data_options import SyntheticUnpairedOptions, UnpairedOptions

_SMOKE_ROOT = os.path.join(tempfile.gettempdir(), "translate-smoke-unpaired")
_SMOKE_SYNTHETIC: dict[str, Any] = {
    "root": _SMOKE_ROOT,
    "count_a": 4,
    "count_b": 3,
    "test_count": 2,
    "image_size": 32,
}
# the same folder: it holds data once the synthetic_unpaired smoke instance was built
_SMOKE_UNPAIRED: dict[str, Any] = {"root": _SMOKE_ROOT, "load_size": 36, "crop_size": 32}


def build_unpaired(options: UnpairedOptions, *, split: str) -> Any:
    """``root/trainA`` and ``root/trainB`` (``testA``/``testB`` for val and test), unaligned."""
    from .unpaired import UnpairedDataset

    return UnpairedDataset(options, split)


def build_synthetic_unpaired(options: SyntheticUnpairedOptions, *, split: str) -> Any:
    """Generated day -> night scenes, unpaired (generated into ``root`` on first use)."""
    from .synthetic import build_synthetic_unpaired as build

    return build(options, split)


DATASETS: list[tuple[str, Callable[..., Any], type, dict[str, Any], str]] = [
    (
        "unpaired",
        build_unpaired,
        UnpairedOptions,
        _SMOKE_UNPAIRED,
        "CycleGAN format: root/trainA/ and root/trainB/ (testA/, testB/) image folders, unaligned",
    ),
    (
        "synthetic_unpaired",
        build_synthetic_unpaired,
        SyntheticUnpairedOptions,
        _SMOKE_SYNTHETIC,
        "quickstart unpaired data, generated from a seed: day scenes (A) <-> night scenes (B); the test "
        "scenes also in the other domain (testA_night/, testB_day/), so val and test are aligned (PSNR, SSIM)",
    ),
]

__all__ = ["DATASETS", "build_unpaired", "build_synthetic_unpaired"]

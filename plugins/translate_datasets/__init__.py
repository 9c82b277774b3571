"""Built-in data sets: ``paired_ab``, ``paired_folders`` and the generated ``synthetic_shapes``.

Only the options models are imported here; torch, kornia and albumentations load inside
the factories, so ``translate --help`` and ``translate plugins`` stay fast.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from translate.api import hookimpl

from .options import PairedOptions, ShapesOptions

_SMOKE_SHAPES = {
    "root": os.path.join(tempfile.gettempdir(), "translate-smoke-shapes"),
    "count": 4,
    "val_count": 2,
    "test_count": 1,
    "image_size": 32,
}


def build_paired_ab(options: PairedOptions, *, split: str) -> Any:
    """``root/<split>/*.png|jpg`` files holding A on the left half and B on the right."""
    from .paired import PairedABDataset

    return PairedABDataset(options, split)


def build_paired_folders(options: PairedOptions, *, split: str) -> Any:
    """``root/<split>/A/`` and ``root/<split>/B/`` (or ``root/A``, ``root/B``) matched by file name."""
    from .paired import PairedFoldersDataset

    return PairedFoldersDataset(options, split)


def build_synthetic_shapes(options: ShapesOptions, *, split: str) -> Any:
    """Generated edges -> coloured shapes pairs (generated into ``root`` on first use)."""
    from .shapes import build_shapes

    return build_shapes(options, split=split)


@hookimpl
def register_datasets(register: Any) -> None:
    register(
        "paired_ab",
        build_paired_ab,
        options=PairedOptions,
        description="pix2pix format: root/<split>/*.png|jpg with A on the left half, B on the right",
        smoke_options={},
        folder_option="root",
    )
    register(
        "paired_folders",
        build_paired_folders,
        options=PairedOptions,
        description="root/<split>/A/ and root/<split>/B/ folders, pairs matched by file name",
        smoke_options={},
        folder_option="root",
    )
    register(
        "synthetic_shapes",
        build_synthetic_shapes,
        options=ShapesOptions,
        description="quickstart data, generated from a seed: edge drawings -> shaded coloured shapes",
        smoke_options=dict(_SMOKE_SHAPES),
        folder_option="root",
    )


@hookimpl
def register_data_sources(register: Any) -> None:
    from .sources import register_sources

    register_sources(register)

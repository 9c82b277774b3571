"""Tiny trained runs and exported folders shared by the export and pipeline tests.

Each run is trained once per test session (1-2 optimizer steps) and cached by kind; tests
that change files work on copies (:func:`copy_folder`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.support.tiny_recipes import CYCLEGAN, PIX2PIX, write_recipe

_CACHE: dict[str, Path] = {}


def trained_run(kind: str, factory: pytest.TempPathFactory) -> Path:
    """A finished tiny run folder: ``pix2pix`` (2 steps) or ``cyclegan`` (1 step). Do not modify it."""
    if kind not in _CACHE:
        from translate.engine.trainer import train

        root = factory.mktemp(f"{kind}-run")
        text, data, steps = (PIX2PIX, "shapes", 2) if kind == "pix2pix" else (CYCLEGAN, "unpaired", 1)
        recipe = write_recipe(text, root / f"{kind}.toml", data=root / data, run=root / "run")
        _CACHE[kind] = train(recipe, max_steps=steps).run_dir
    return _CACHE[kind]


def exported(kind: str, factory: pytest.TempPathFactory) -> Path:
    """The run of ``kind`` exported once to a model folder named ``<kind>-model``. Do not modify it."""
    key = f"{kind}:export"
    if key not in _CACHE:
        from translate.models.export import export_run

        _CACHE[key] = export_run(trained_run(kind, factory), factory.mktemp("exports") / f"{kind}-model")
    return _CACHE[key]


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def write_image(path: Path, height: int, width: int, mode: str = "RGB", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    shape = (height, width) if mode == "L" else (height, width, len(mode))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(path)
    return path


def forbid_unpickling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every unpickling entry point (and torch.load) fail the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("unpickling or torch.load during loading")

    for name in ("pickle.loads", "pickle.load", "pickle.Unpickler", "torch.load"):
        monkeypatch.setattr(name, forbidden)

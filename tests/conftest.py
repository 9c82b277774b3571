"""Shared fixtures: tiny recipes, deterministic seeds, CPU only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model_runs import exported, trained_run
from tiny_recipes import PIX2PIX, write_recipe

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)




@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated tiny shapes data set shared by the training tests."""
    return tmp_path_factory.mktemp("data") / "shapes"


@pytest.fixture
def tiny_recipe(tmp_path: Path, shapes_root: Path) -> Path:
    """A tiny pix2pix recipe file (32x32 shapes, 8 steps) whose run folder is tmp_path/run."""
    return write_recipe(PIX2PIX, tmp_path / "tiny.toml", data=shapes_root, run=tmp_path / "run")


@pytest.fixture(scope="session")
def pix2pix_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny pix2pix run folder (trained once per session; do not modify it)."""
    return trained_run("pix2pix", tmp_path_factory)


@pytest.fixture(scope="session")
def cyclegan_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny CycleGAN run folder (trained once per session; do not modify it)."""
    return trained_run("cyclegan", tmp_path_factory)


@pytest.fixture(scope="session")
def pix2pix_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny pix2pix run exported to a model folder (do not modify it)."""
    return exported("pix2pix", tmp_path_factory)


@pytest.fixture(scope="session")
def cyclegan_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny CycleGAN run exported to a model folder (do not modify it)."""
    return exported("cyclegan", tmp_path_factory)

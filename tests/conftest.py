"""Shared fixtures: tiny recipes, deterministic seeds, CPU only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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


TINY_RECIPE = """
seed = 3

[method]
name = "pix2pix"

[method.options]
test_mode = "eval"

[generator]
name = "unet"

[generator.options]
num_downs = 5
ngf = 8

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 2
ndf = 8

[data]
name = "synthetic_shapes"
batch_size = 4

[data.options]
root = "{data}"
count = 24
val_count = 4
test_count = 3
image_size = 32

[train]
steps = 8
decay = 4

[output]
dir = "{run}"
log_every = 2
sample_every = 4
checkpoint_every = 3
keep_checkpoints = 5
num_samples = 2
tensorboard = false
progress = false
"""


@pytest.fixture(scope="session")
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated tiny shapes data set shared by the training tests."""
    return tmp_path_factory.mktemp("data") / "shapes"


@pytest.fixture
def tiny_recipe(tmp_path: Path, shapes_root: Path) -> Path:
    """A tiny pix2pix recipe file (32x32 shapes, 8 steps) whose run folder is tmp_path/run."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_RECIPE.format(data=shapes_root.as_posix(), run=(tmp_path / "run").as_posix()))
    return path

"""Shared fixtures: tiny recipes and deterministic seeds.

Tests run on the CPU unless they ask for a GPU; tests marked ``gpu`` run when CUDA is present
and are skipped otherwise. ``--cpu-only`` (or ``TRANSLATE_TEST_CPU_ONLY=1``) hides CUDA from the
whole session, for a GPU machine that should behave like CI.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.model_runs import exported, trained_run
from tests.support.tiny_recipes import PIX2PIX, write_recipe

os.environ.setdefault("TQDM_DISABLE", "1")
# the fast plan's calibration cache (translate/engine/calibrate.py): one per test session, not the user's
os.environ.setdefault("TRANSLATE_SPEED_CACHE", tempfile.mkdtemp(prefix="translate-speed-"))
# translate infer / serve default to backend "auto" (timed); tests pin PyTorch unless they test that choice
os.environ.setdefault("TRANSLATE_BACKEND", "torch")

ROOT = Path(__file__).resolve().parents[1]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")
    parser.addoption("--cpu-only", action="store_true", help="hide CUDA devices from the tests")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--cpu-only") or os.environ.get("TRANSLATE_TEST_CPU_ONLY", "") not in ("", "0"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # read when CUDA initialises, i.e. after this


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "slow" in item.keywords and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    """Each test starts with no Accelerate state: Accelerate keeps one precision per process, and
    tests train with several in one process (its own test case class resets the same way)."""
    yield
    if "accelerate" in sys.modules:
        from accelerate.state import AcceleratorState, GradientState, is_initialized
        from accelerate.utils import DistributedType

        if is_initialized() and AcceleratorState().distributed_type == DistributedType.NO:
            AcceleratorState._reset_state(reset_partial_state=True)
            GradientState._reset_state()


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


@pytest.fixture
def install_plugins():
    """``install_plugins(plugins)`` makes ``plugins`` (a :func:`translate.plugin.loading.load_plugins`
    result) what the command line and ``get_registry()`` use until the test ends."""
    from contextlib import ExitStack

    from translate.plugin.loading import using_plugins

    with ExitStack() as stack:
        yield lambda plugins: stack.enter_context(using_plugins(plugins))

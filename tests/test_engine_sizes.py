"""Sizes that cannot fit are recipe errors before the first step: a network's size multiple against
the data's crop size, and the pixels of one batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from translate.cli import main
from translate.data import DataInfo
from translate.engine.setup import MAX_BATCH_PIXELS, size_problems
from translate.engine.trainer import train
from translate.errors import RecipeError


def test_a_crop_size_the_generator_cannot_take_is_a_recipe_error(tiny_recipe: Path, capsys) -> None:
    # unet with num_downs 6 needs multiples of 64; the tiny data set serves 32x32 crops
    code = main(["run", str(tiny_recipe), "--set", "generator.options.num_downs=6"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "serves 32x32 images, but generator 'unet' needs heights and widths that are multiples of 64" in err
    assert not list((tiny_recipe.parent / "run").glob("checkpoints/*"))


def test_a_fitting_size_passes(tiny_recipe: Path) -> None:
    assert train(tiny_recipe, max_steps=1).step == 1


class _Net:
    def __init__(self, multiple: int) -> None:
        self.size_multiple = multiple


class _Method:
    def __init__(self, **networks: _Net) -> None:
        self.networks = networks


def test_size_problems() -> None:
    method = _Method(G=_Net(256), D=_Net(1))
    assert size_problems(method, DataInfo(image_size=256), 1) == []
    assert size_problems(method, DataInfo(image_size=None), 10**6) == []  # sizes kept per image
    (problem,) = size_problems(method, DataInfo(image_size=64), 1)
    assert "network 'G'" in problem and "multiples of 256" in problem
    too_many = MAX_BATCH_PIXELS // (256 * 256) + 1
    (problem,) = size_problems(method, DataInfo(image_size=256), too_many)
    assert problem.startswith("data.batch_size:") and "lower the batch size" in problem


def test_train_raises_a_recipe_error(tiny_recipe: Path) -> None:
    with pytest.raises(RecipeError, match="multiples of 64"):
        train(tiny_recipe, overrides=["generator.options.num_downs=6"])

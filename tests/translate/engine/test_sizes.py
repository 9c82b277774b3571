"""Sizes that cannot fit are recipe errors before the first step: a network's size multiple against
the data's crop size, and the pixels of one batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from translate.commands.main import main
from translate.components.method import ComponentRecord
from translate.data.contract import DataInfo
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
    records = {"G": ComponentRecord("generator", "unet_256", {}, "pix2pix", "translate-i2i", "0", 3, 3)}
    (problem,) = size_problems(method, DataInfo(image_size=64), 1, records)  # named by its build record
    assert "generator 'unet_256'" in problem and "multiples of 256" in problem
    too_many = MAX_BATCH_PIXELS // (256 * 256) + 1
    (problem,) = size_problems(method, DataInfo(image_size=256), too_many)
    assert problem.startswith("data.batch_size:") and "lower the batch size" in problem


def test_train_raises_a_recipe_error(tiny_recipe: Path) -> None:
    with pytest.raises(RecipeError, match="multiples of 64"):
        train(tiny_recipe, overrides=["generator.options.num_downs=6"])


def test_a_bad_file_stops_the_run_after_saving_its_progress(tmp_path: Path, capsys) -> None:
    """data.on_bad_file = "stop": the error names the file and the checkpoint that keeps the steps done."""
    from tests.support.tiny_recipes import PIX2PIX, write_recipe
    from translate.engine.sampler import EpochSampler
    from translate.engine.setup import build_dataset
    from translate.plugin.loading import get_registry
    from translate.recipe import load_recipe
    from translate.run.checkpoint import list_checkpoints

    recipe = write_recipe(PIX2PIX, tmp_path / "r.toml", data=tmp_path / "shapes", run=tmp_path / "run")
    registry = get_registry()
    build_dataset(load_recipe(recipe, None, registry)[0], registry, "train")  # generate the tiny set
    # the file of the last batch of epoch 0 (step 6; checkpoints come every 3 steps)
    order = [index for index, _ in EpochSampler(24, seed=3, batch_size=4)]
    bad = tmp_path / "shapes" / "train" / f"{order[-1]:05d}.png"
    bad.write_bytes(bad.read_bytes()[:80])
    code = main(["run", str(recipe)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: ") and bad.name in line and "progress is saved in checkpoint" in line
    assert "step-00000005" in line and line.endswith("--resume")
    assert [c.name for c in list_checkpoints(tmp_path / "run")] == ["step-00000003", "step-00000005"]


def test_a_full_disk_anywhere_is_one_line(tiny_recipe: Path, monkeypatch, capsys) -> None:
    """A full disk outside the checkpoint and export writers (here: the sample grids) is one clear line."""
    import errno

    import translate.engine.steps as steps

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tiny_recipe.parent / "run" / "samples" / "x.png"))

    monkeypatch.setattr(steps, "write_samples", full)
    assert main(["run", str(tiny_recipe)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert err.startswith("error: the disk is full (No space left on device) while writing ") and "samples" in err


def test_a_generator_built_outside_the_context_is_refused_before_the_first_step() -> None:
    """The model file needs each exported generator's build record: a method that builds one by hand is told
    so when the run sets up (build_method), not after training."""
    import torch

    import translate
    from translate.components.method import ExportSpec, Method
    from translate.engine.setup import build_method
    from translate.errors import PluginError
    from translate.plugin.loading import load_plugins
    from translate.recipe import Recipe

    class HandBuilt(Method):
        def __init__(self, options, ctx) -> None:
            super().__init__()
            self.networks["G"] = torch.nn.Conv2d(3, 3, 1)  # not ctx.generator(...): no build record

        def exports(self) -> list[ExportSpec]:
            return [ExportSpec("AtoB", "G")]

    class Plugin:
        @translate.hookimpl
        def register_methods(self, register):
            register("hand_built", HandBuilt)

    class TrainSet:
        channels = {"input": 3, "target": 3}
        info = DataInfo(image_size=8)

    registry = load_plugins(extra=[("hand", Plugin())], entry_points=[]).registry
    recipe = Recipe.model_validate({"method": {"name": "hand_built"}, "data": {"name": "x"}, "train": {"steps": 1}})
    with pytest.raises(PluginError, match=r"method 'hand_built': export 'AtoB': network 'G' was not built through "
                                          r"BuildContext.generator\(\)"):
        build_method(recipe, registry, TrainSet(), "r.toml")

"""``train.init_from``: a run starts from a model's generators (fine-tuning), exactly, or refuses clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.engine.trainer import train
from translate.errors import RecipeError


def _params(path: Path) -> dict:
    """The G weights of a model file, without BatchNorm running statistics (training moves them)."""
    return {k: v for k, v in load_file(str(path)).items() if not k.endswith(("running_mean", "running_var",
                                                                               "num_batches_tracked"))}


def test_a_run_starts_from_the_model_s_generator(pix2pix_run: Path, tmp_path: Path, shapes_root: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    source = pix2pix_run / "model.safetensors"
    recipe = write_recipe(PIX2PIX, tmp_path / "tune.toml", data=shapes_root, run=tmp_path / "run")
    # a tiny lr: the weights after one step are (to 1e-6) the weights it started from
    train(recipe, overrides=[f"train.init_from={str(source)!r}", "method.options.lr=1e-20"], max_steps=1)
    assert f"train.init_from: G <- generator 'G' of {source}" in capsys.readouterr().out
    tuned, original = _params(tmp_path / "run" / "model.safetensors"), _params(source)
    assert tuned.keys() == original.keys()
    assert all(torch.allclose(tuned[k], original[k], rtol=0, atol=1e-6) for k in tuned)
    # without init_from the same recipe starts elsewhere (the check above can fail)
    train(recipe, overrides=["method.options.lr=1e-20"], max_steps=1, output_dir=str(tmp_path / "fresh"))
    fresh = _params(tmp_path / "fresh" / "model.safetensors")
    assert not all(torch.allclose(fresh[k], original[k], rtol=0, atol=1e-6) for k in fresh)


def test_a_model_that_does_not_fit_is_a_recipe_error(pix2pix_run: Path, tmp_path: Path, shapes_root: Path) -> None:
    recipe = write_recipe(PIX2PIX, tmp_path / "tune.toml", data=shapes_root, run=tmp_path / "run")
    source = str(pix2pix_run / "model.safetensors")
    with pytest.raises(RecipeError, match=r"train\.init_from: generator 'G' of .* does not fit network 'G'.*shapes "
                                          r"differ"):
        train(recipe, overrides=[f"train.init_from={source!r}", "generator.options.ngf=16"], max_steps=1)
    with pytest.raises(RecipeError, match=r"train\.init_from: .*nowhere"):
        train(recipe, overrides=[f"train.init_from={str(tmp_path / 'nowhere')!r}"], max_steps=1)
    assert not (tmp_path / "run" / "model.safetensors").exists()

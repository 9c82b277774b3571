"""CycleGAN end to end: training, resume equivalence with the image pools, both directions, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.tiny_recipes import CYCLEGAN, write_recipe
from translate.commands.main import main
from translate.engine.trainer import train
from translate.errors import RecipeError
from translate.models import load_model
from translate.run.checkpoint import list_checkpoints

RECIPE = CYCLEGAN


@pytest.fixture(scope="module")
def unpaired_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data") / "unpaired"


@pytest.fixture
def recipe(tmp_path: Path, unpaired_root: Path) -> Path:
    return write_recipe(RECIPE, tmp_path / "cyclegan.toml", data=unpaired_root, run=tmp_path / "run")


def test_training_run_exports_both_generators(recipe: Path) -> None:
    result = train(recipe)
    assert result.step == 8
    assert {"G_AtoB", "G_BtoA", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"} <= set(result.last_losses)
    model = load_model(result.run_dir / "model.safetensors")
    meta = model.meta
    assert meta.default == "AtoB"
    gens = meta.generators
    assert set(gens) == {"AtoB", "BtoA"}
    assert (gens["AtoB"].input_domain, gens["AtoB"].output_domain) == ("day", "night")
    assert (gens["BtoA"].input_domain, gens["BtoA"].output_domain) == ("night", "day")
    assert gens["AtoB"].component == "resnet"
    # two row groups in the sample grid: real_A | fake_B | rec_A and real_B | fake_A | rec_B
    from PIL import Image

    grid = Image.open(result.run_dir / "samples" / "step-00000008.png")
    assert grid.height >= 4 * 32  # 2 samples x 2 groups


def test_resume_with_pools_matches_uninterrupted_run(recipe: Path, tmp_path: Path) -> None:
    full = train(recipe, output_dir=str(tmp_path / "full"))
    train(recipe, output_dir=str(tmp_path / "part"), max_steps=3)
    pool_state = list_checkpoints(tmp_path / "part")[-1] / "method.safetensors"
    assert load_file(str(pool_state))  # the pools are in the checkpoint
    resumed = train(recipe, output_dir=str(tmp_path / "part"), resume=True)
    a = load_file(str(list_checkpoints(full.run_dir)[-1] / "networks.safetensors"))
    b = load_file(str(list_checkpoints(resumed.run_dir)[-1] / "networks.safetensors"))
    for key in a:
        assert torch.equal(a[key], b[key]), key
    pa = load_file(str(list_checkpoints(full.run_dir)[-1] / "method.safetensors"))
    pb = load_file(str(list_checkpoints(resumed.run_dir)[-1] / "method.safetensors"))
    assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)


def test_infer_in_both_directions(recipe: Path, unpaired_root: Path, tmp_path: Path) -> None:
    train(recipe, max_steps=2)
    model = tmp_path / "run" / "model.safetensors"
    for direction, folder in (("AtoB", "testA"), ("BtoA", "testB")):
        out = tmp_path / direction
        assert main(["infer", str(model), str(unpaired_root / folder), "--out", str(out),
                     "--direction", direction]) == 0
        assert len(list(out.iterdir())) == 3
    # the default direction is AtoB
    assert main(["infer", str(model), str(unpaired_root / "testA"), "--out", str(tmp_path / "default")]) == 0
    a = sorted((tmp_path / "AtoB").iterdir())
    d = sorted((tmp_path / "default").iterdir())
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in d]


def test_identity_loss_with_mismatched_channels_is_a_recipe_error(recipe: Path) -> None:
    with pytest.raises(RecipeError, match="lambda_identity"):
        train(recipe, overrides=["data.options.output_channels=1"])
    # without the identity loss the same data trains
    result = train(recipe, overrides=["data.options.output_channels=1", "method.options.lambda_identity=0.0"],
                   max_steps=1)
    assert result.step == 1


def test_recipes_for_public_sets_validate() -> None:
    root = Path(__file__).resolve().parents[3] / "recipes"
    for name in ("cyclegan_horse2zebra.toml", "cyclegan_monet2photo.toml", "quickstart_unpaired.toml"):
        assert main(["check", str(root / name)]) == 0

"""End-to-end training: run folder, resume equivalence, NaN stop, precision checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from translate.commands.main import main
from translate.engine.trainer import train
from translate.errors import RecipeError, TrainingDiverged, TranslateError
from translate.recipe import load_recipe
from translate.run.checkpoint import list_checkpoints
from translate.run.logs import read_metrics


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    ckpt = list_checkpoints(run_dir)[-1]
    return load_file(str(ckpt / "networks.safetensors"))


def test_short_run_writes_run_folder(tiny_recipe: Path) -> None:
    result = train(tiny_recipe)
    run = result.run_dir
    assert result.step == 8
    for name in ("recipe.toml", "recipe.json", "metrics.jsonl", "model.safetensors"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000004.png", "step-00000008.png"]
    assert [p.name for p in list_checkpoints(run)] == ["step-00000003", "step-00000006", "step-00000008"]
    records = read_metrics(run)
    assert [r["step"] for r in records] == [2, 4, 6, 8]
    assert {"D", "G", "G_gan", "G_l1", "lr_G", "lr_D", "images_per_s", "data_wait"} <= set(records[0])
    assert all(0.0 <= r["data_wait"] <= 1.0 for r in records)
    # constant for steps 0..3, then linear decay over the last 4 steps (reference rule)
    assert records[0]["lr_G"] == pytest.approx(2e-4)
    assert records[-1]["lr_G"] == pytest.approx(2e-4 * (1 - 4 / 5))
    # the written recipe is complete and loads again to the same recipe
    again, resolved = load_recipe(run / "recipe.toml")
    assert resolved == json.loads((run / "recipe.json").read_text())


def test_resume_matches_uninterrupted_run(tiny_recipe: Path, tmp_path: Path) -> None:
    full = train(tiny_recipe, output_dir=str(tmp_path / "full"))
    # stop mid-epoch (24 items / batch 4 = 6 batches per epoch; step 3 is mid-epoch 0)
    part = train(tiny_recipe, output_dir=str(tmp_path / "part"), max_steps=3)
    assert part.step == 3
    resumed = train(tiny_recipe, output_dir=str(tmp_path / "part"), resume=True)
    assert resumed.step == 8
    a, b = _weights(full.run_dir), _weights(resumed.run_dir)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ma = load_file(str(full.run_dir / "model.safetensors"))
    mb = load_file(str(resumed.run_dir / "model.safetensors"))
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    # the stopped run logged its last step (3); the resumed run appended without duplicates
    assert [r["step"] for r in read_metrics(resumed.run_dir)] == [2, 3, 4, 6, 8]


def test_existing_run_needs_resume_flag(tiny_recipe: Path) -> None:
    train(tiny_recipe, max_steps=3)
    with pytest.raises(TranslateError, match="--resume"):
        train(tiny_recipe)


def test_resume_refuses_a_changed_recipe(tiny_recipe: Path) -> None:
    train(tiny_recipe, max_steps=3)
    with pytest.raises(TranslateError, match="method"):
        train(tiny_recipe, overrides=["method.options.lambda_l1=10.0"], resume=True)


def test_resume_without_checkpoint_is_an_error(tiny_recipe: Path) -> None:
    with pytest.raises(TranslateError, match="no checkpoint"):
        train(tiny_recipe, resume=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from translate_pix2pix.method import Pix2Pix

    original = Pix2Pix.train_step

    def poisoned(self, batch, ctx):  # type: ignore[no-untyped-def]
        losses = original(self, batch, ctx)
        if ctx.step >= 4:
            losses["G_l1"] = torch.tensor(float("nan"))
        return losses

    monkeypatch.setattr(Pix2Pix, "train_step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"G_l1.*step 5.*step-00000003"):
        train(tiny_recipe)
    run = tiny_recipe.parent / "run"
    assert [p.name for p in list_checkpoints(run)] == ["step-00000003"]
    assert not (run / "model.safetensors").exists()


def test_fp16_on_cpu_is_rejected(tiny_recipe: Path) -> None:
    with pytest.raises(RecipeError, match="fp16"):
        train(tiny_recipe, overrides=['train.mixed_precision="fp16"'])


def test_bf16_and_accumulation_train(tiny_recipe: Path) -> None:
    result = train(tiny_recipe, overrides=['train.mixed_precision="bf16"', "train.gradient_accumulation_steps=2"],
                   max_steps=2)
    assert result.step == 2
    assert all(v == v for v in result.last_losses.values())  # finite, not NaN


def test_cli_run_and_infer(tiny_recipe: Path, shapes_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(tiny_recipe), "--max-steps", "2"]) == 0
    run = tiny_recipe.parent / "run"
    out = tiny_recipe.parent / "out"
    assert main(["infer", str(run / "model.safetensors"), str(shapes_root / "test_inputs"), "--out", str(out)]) == 0
    inputs = sorted(p.stem for p in (shapes_root / "test_inputs").iterdir())
    assert sorted(p.stem for p in out.iterdir()) == inputs


def test_cli_reports_recipe_errors_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[method]\nname = "pix2px"\n[data]\nname = "paired_ab"\n[train]\nsteps = 1\n')
    assert main(["run", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "method.name" in err and "pix2pix" in err
    assert "Traceback" not in err


def test_fused_adam_matches_the_plain_reference() -> None:
    """BuildContext.adam takes the fused fast path; it must give the same updates as plain Adam."""
    from translate.components.build import BuildContext

    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(8, 2, 3))
    b = __import__("copy").deepcopy(a)
    fast = BuildContext.adam(None, a.parameters(), 2e-4, [0.5, 0.999])  # type: ignore[arg-type]
    plain = torch.optim.Adam(b.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=False)
    assert fast.defaults["fused"] is True
    for _ in range(5):
        x = torch.randn(2, 3, 12, 12)
        for net, opt in ((a, fast), (b, plain)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6)


def test_a_save_killed_halfway_never_hides_the_last_good_checkpoint(tiny_recipe: Path) -> None:
    """A kill during a save leaves a ``.tmp`` folder (or one without manifest): it is ignored."""
    train(tiny_recipe, max_steps=3)
    run = tiny_recipe.parent / "run"
    ckpts = run / "checkpoints"
    (ckpts / "step-00000005.tmp").mkdir()
    (ckpts / "step-00000005.tmp" / "networks.safetensors").write_bytes(b"partial")
    (ckpts / "step-00000004").mkdir()  # renamed but never completed: no manifest
    assert [p.name for p in list_checkpoints(run)] == ["step-00000003"]
    resumed = train(tiny_recipe, resume=True)
    assert resumed.step == 8
    assert list_checkpoints(run)[-1].name == "step-00000008"
    # the next save cleaned the left-overs up
    assert not (ckpts / "step-00000005.tmp").exists() and not (ckpts / "step-00000004").exists()

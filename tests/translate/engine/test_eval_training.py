"""Evaluation during training: the [eval] table of a tiny pix2pix run (in-process test metrics)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.tiny_plugin import TinyMae, TinyMetricsPlugin
from tests.support.tiny_recipes import CYCLEGAN, PIX2PIX, write_recipe
from translate.engine.trainer import train
from translate.errors import TranslateError
from translate.evaluation import read_evaluation
from translate.models.weights import file_sha256
from translate.plugin.loading import builtin_entry_points, load_plugins
from translate.run.checkpoint import list_checkpoints
from translate.run.logs import read_metrics

BUILTINS = ("pix2pix", "losses", "datasets", "cyclegan")
EVAL = """
[eval]
metrics = ["tiny_mae", "tiny_mean"]
every = 2
split = "val"
best = "tiny_mae"
"""


@pytest.fixture(scope="module")
def registry():
    eps = [ep for ep in builtin_entry_points() if ep.name in BUILTINS]
    return load_plugins(extra=[("tinymetrics", TinyMetricsPlugin())], entry_points=eps, strict=True).registry


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """tiny_mae returns these values in turn (plus an infinite ``tiny_inf``), so the best step is known."""
    values: list[float] = []

    def compute(self):  # type: ignore[no-untyped-def]
        return {"tiny_mae": values.pop(0), "tiny_inf": math.inf}

    monkeypatch.setattr(TinyMae, "compute", compute)
    return values


def _recipe(tmp_path: Path, shapes_root: Path, table: str = EVAL) -> Path:
    path = write_recipe(PIX2PIX, tmp_path / "tiny.toml", data=shapes_root, run=tmp_path / "run")
    text = path.read_text().replace("keep_checkpoints = 5", "keep_checkpoints = 1")
    path.write_text(text + table)
    return path


def _steps(run: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in list_checkpoints(run)]


def test_eval_every_n_steps_keeps_the_best(tmp_path: Path, shapes_root: Path, registry, scripted,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    scripted += [9.0, 0.5, 0.2, 0.3, 0.4]  # the dry run before step 1, then steps 2, 4, 6, 8: the best is step 4
    result = train(_recipe(tmp_path, shapes_root), registry=registry)
    run = result.run_dir
    assert not scripted
    evals = [r for r in read_metrics(run) if "eval/tiny_mae" in r]
    assert [(r["step"], r["eval/tiny_mae"]) for r in evals] == [(2, 0.5), (4, 0.2), (6, 0.3), (8, 0.4)]
    assert all(r["eval/tiny_inf"] == "inf" and isinstance(r["eval/tiny_mean"], float) for r in evals)
    # checkpoints every 3 steps, keep 1: the best step's checkpoint survives beside the last
    assert _steps(run) == [4, 8]
    best = json.loads((run / "best.json").read_text())
    assert best == {"key": "tiny_mae", "value": 0.2, "step": 4, "higher_is_better": False,
                    "checkpoint": "checkpoints/step-00000004"}
    model_best = load_file(str(run / "model-best.safetensors"))
    at_4 = load_file(str(run / "checkpoints" / "step-00000004" / "networks.safetensors"))
    assert model_best.keys() and all(torch.equal(v, at_4[k]) for k, v in model_best.items())
    final = load_file(str(run / "model.safetensors"))
    assert any(not torch.equal(v, model_best[k]) for k, v in final.items())
    # evaluation.json: the final evaluation, the exported model, the data
    record = read_evaluation(run / "evaluation.json")
    assert record["values"]["tiny_mae"] == 0.4 and record["values"]["tiny_inf"] == math.inf
    assert record["model"]["sha256"] == file_sha256(run / "model.safetensors") and record["model"]["step"] == 8
    assert record["data"]["name"] == "synthetic_shapes" and record["data"]["split"] == "val"
    assert record["data"]["fingerprint"] == record["protocol"]["inputs_sha256"]
    assert record["protocol"]["generators"]["G"]["num_images"] == 4
    assert (run / "environment.json").is_file()
    out = capsys.readouterr().out
    assert "evaluation at step 8" in out and "tiny_mae" in out and "tiny_mean_real" in out
    assert f"best tiny_mae 0.2 at step 4: {run / 'model-best.safetensors'}" in out


def test_resume_keeps_the_best(tmp_path: Path, shapes_root: Path, registry, scripted) -> None:
    recipe = _recipe(tmp_path, shapes_root)
    scripted += [9.0, 0.5, 0.2, 0.3]  # the dry run, steps 2, 4 and 5 (the end of the first part)
    train(recipe, registry=registry, max_steps=5)
    run = tmp_path / "run"
    first = (run / "model-best.safetensors").read_bytes()
    assert json.loads((run / "best.json").read_text())["step"] == 4 and _steps(run) == [4, 5]
    scripted += [0.1, 0.25, 0.4]  # the dry run (not a step: not a best), steps 6 and 8: worse than step 4's 0.2
    train(recipe, registry=registry, resume=True)
    assert not scripted
    assert json.loads((run / "best.json").read_text())["step"] == 4
    assert (run / "model-best.safetensors").read_bytes() == first
    assert _steps(run) == [4, 8]
    evals = [(r["step"], r["eval/tiny_mae"]) for r in read_metrics(run) if "eval/tiny_mae" in r]
    assert evals == [(2, 0.5), (4, 0.2), (5, 0.3), (6, 0.25), (8, 0.4)]


def test_evaluation_leaves_training_unchanged(tmp_path: Path, shapes_root: Path, registry) -> None:
    """Evaluating every step (generator in train test mode: dropout, batch statistics) gives the same
    weights as training without evaluation."""
    train_mode = ['method.options.test_mode="train"']
    plain = write_recipe(PIX2PIX, tmp_path / "plain.toml", data=shapes_root, run=tmp_path / "plain")
    a = train(plain, overrides=train_mode, registry=registry, max_steps=3)
    table = '\n[eval]\nmetrics = ["tiny_mae"]\nevery = 1\nsplit = "val"\n'
    b = train(_recipe(tmp_path, shapes_root, table), overrides=train_mode, registry=registry, max_steps=3)
    wa = load_file(str(list_checkpoints(a.run_dir)[-1] / "networks.safetensors"))
    wb = load_file(str(list_checkpoints(b.run_dir)[-1] / "networks.safetensors"))
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert len([r for r in read_metrics(b.run_dir) if "eval/tiny_mae" in r]) == 3
    assert not (b.run_dir / "best.json").exists()


def test_eval_problems_stop_before_the_first_step(tmp_path: Path, shapes_root: Path, registry, scripted) -> None:
    with pytest.raises(TranslateError, match="eval.split = 'nope': synthetic_shapes has the splits"):
        train(_recipe(tmp_path, shapes_root, '\n[eval]\nmetrics = ["tiny_mae"]\nsplit = "nope"\n'), registry=registry)
    with pytest.raises(TranslateError, match="'tiny_mean' needs at least 2 images"):
        train(_recipe(tmp_path, shapes_root, '\n[eval]\nmetrics = ["tiny_mean"]\nnum_images = 1\nsplit = "val"\n'),
              registry=registry)
    assert not list_checkpoints(tmp_path / "run")
    scripted += [0.5]  # the dry run finds that no value is called tiny_maex
    with pytest.raises(TranslateError, match="eval.best: 'tiny_maex' is not one of the values.*tiny_mae, tiny_inf"):
        train(_recipe(tmp_path, shapes_root, '\n[eval]\nmetrics = ["tiny_mae"]\nevery = 2\nsplit = "val"\nbest = "tiny_maex"\n'),
              registry=registry)
    assert not scripted and not list_checkpoints(tmp_path / "run")


def test_cyclegan_evaluates_both_directions(tmp_path: Path, registry) -> None:
    recipe = write_recipe(CYCLEGAN, tmp_path / "cg.toml", data=tmp_path / "unpaired", run=tmp_path / "run")
    text = recipe.read_text()
    recipe.write_text(text + '\n[eval]\nmetrics = ["tiny_mae"]\n')
    with pytest.raises(TranslateError, match="'tiny_mae' compares each output with its own ground truth.*unpaired"):
        train(recipe, registry=registry, max_steps=2)
    recipe.write_text(text + '\n[eval]\nmetrics = ["tiny_mean"]\nbest = "BtoA/tiny_mean"\n')
    run = train(recipe, registry=registry, max_steps=2).run_dir
    (last,) = [r for r in read_metrics(run) if "eval/AtoB/tiny_mean" in r]
    assert last["step"] == 2 and {"eval/BtoA/tiny_mean", "eval/AtoB/tiny_mean_real"} <= set(last)
    record = read_evaluation(run / "evaluation.json")
    assert set(record["protocol"]["generators"]) == {"AtoB", "BtoA"} and record["protocol"]["split"] == "test"
    assert json.loads((run / "best.json").read_text())["step"] == 2


def test_eval_precision_is_not_the_training_autocast() -> None:
    """A bf16 run's prepared generator is wrapped in Accelerate's autocast forward; fp32 evaluation
    runs the plain forward (and leaves the wrapper in place for training)."""
    from accelerate import Accelerator

    from translate.engine.evaluate import _plain_forward

    accelerator = Accelerator(mixed_precision="bf16", cpu=True)
    net = accelerator.unwrap_model(accelerator.prepare(torch.nn.Linear(64, 64)))
    x = torch.randn(2, 64)
    exact = torch.nn.functional.linear(x, net.weight, net.bias)
    assert not torch.equal(net(x), exact)  # bf16 inside the wrapper
    with _plain_forward([net]):
        assert torch.equal(net(x), exact)
    assert not torch.equal(net(x), exact)


def test_a_recipes_reference_statistics_are_read_once_and_recorded(tmp_path: Path, shapes_root: Path,
                                                                   registry) -> None:
    import numpy as np

    from translate.evaluation.reference import write_reference

    stats = write_reference(tmp_path / "far.npz", {"mean": np.full(3, 4.0)})
    table = f'\n[eval]\nmetrics = ["tiny_gap"]\nsplit = "val"\nreference = "{stats}"\n'
    run = train(_recipe(tmp_path, shapes_root, table), registry=registry).run_dir
    body = read_evaluation(run / "evaluation.json")
    assert body["protocol"]["references"]["G"]["sha256"] == file_sha256(stats)
    assert body["values"]["tiny_gap"] > 9  # |mean(fake) - 4| over 3 channels, outputs in [-1, 1]
    bad = write_reference(tmp_path / "bad.npz", {"other": np.zeros(1)})
    table = f'\n[eval]\nmetrics = ["tiny_gap"]\nsplit = "val"\nreference = "{bad}"\n'
    (tmp_path / "again").mkdir()
    with pytest.raises(TranslateError, match="bad.npz: holds no 'mean'"):  # the dry run, before step 1
        train(_recipe(tmp_path / "again", shapes_root, table), registry=registry)
    assert not list((tmp_path / "again" / "run").glob("checkpoints/*"))


def test_choosing_the_best_on_the_test_split_is_warned_about(tmp_path: Path, shapes_root: Path, registry,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    table = '\n[eval]\nmetrics = ["tiny_mae"]\nsplit = "test"\nbest = "tiny_mae"\n'
    train(_recipe(tmp_path, shapes_root, table), registry=registry, max_steps=1)
    assert "warning: eval.best = 'tiny_mae' chooses the best checkpoint on the test split" in capsys.readouterr().out
    (tmp_path / "v").mkdir()
    train(_recipe(tmp_path / "v", shapes_root, table.replace('"test"', '"val"')), registry=registry, max_steps=1)
    assert "warning: eval.best" not in capsys.readouterr().out

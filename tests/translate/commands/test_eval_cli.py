"""``translate eval``: runs, model folders and files, ``--data`` recipes and folders, metrics and their
options, CycleGAN's two directions, and the errors a user meets (on tiny trained runs, CPU)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.model_runs import copy_folder
from tests.support.tiny_plugin import TinyMetricsPlugin
from translate.commands.eval import eval_cli
from translate.commands.main import build_parser, main
from translate.errors import DataError, RecipeError, TranslateError
from translate.models import load_model
from translate.plugin.loading import load_plugins

METRICS = ["--metrics", "tiny_mae,tiny_mean"]


@pytest.fixture(scope="module")
def plugins():
    """The installed plugins plus the tiny test metrics (tiny_mae: paired; tiny_mean: any data)."""
    return load_plugins(extra=[("tiny-metrics", TinyMetricsPlugin())])


@pytest.fixture
def run(tmp_path, pix2pix_run) -> Path:
    """A copy of the tiny pix2pix run (synthetic_shapes: train, val and test splits, 4 val pairs)."""
    return copy_folder(pix2pix_run, tmp_path / "run")


def evaluate(plugins, *argv: str) -> int:
    return eval_cli(build_parser(plugins.registry, "eval").parse_args(["eval", *map(str, argv)]), registry=plugins.registry)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def independent_mae(model_dir: Path, data_root: Path, registry) -> float:
    """tiny_mae computed here, without translate.evaluation: the generator in eval mode on every val pair."""
    loaded = load_model(model_dir, registry=registry)
    module = loaded.modules[loaded.meta.default].eval()
    errors = []
    for path in sorted((data_root / "val").glob("*.png")):
        pair = torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32))
        pair = pair.permute(2, 0, 1) / 127.5 - 1.0
        width = pair.shape[-1] // 2
        x, y = pair[:, :, :width], pair[:, :, width:]
        with torch.no_grad():
            fake = module(x[None]).clamp(-1, 1)[0]
        errors.append(float((fake - y).abs().mean()))
    return sum(errors) / len(errors)


def data_root(run: Path) -> Path:
    import tomllib

    return Path(tomllib.loads((run / "recipe.toml").read_text())["data"]["options"]["root"])


# --------------------------------------------------------------------------- a run folder


def test_eval_run_writes_values_protocol_and_fingerprints(plugins, run, capsys):
    assert evaluate(plugins, run, "--split", "val", *METRICS) == 0
    out = capsys.readouterr().out
    assert "tiny_mae" in out and "lower" in out and f"wrote {run / 'evaluation.json'}" in out
    body = json.loads((run / "evaluation.json").read_text())
    assert set(body["values"]) == {"tiny_mae", "tiny_mean", "tiny_mean_real"}
    assert body["higher_is_better"]["tiny_mae"] is False
    assert body["values"]["tiny_mae"] == pytest.approx(independent_mae(run, data_root(run), plugins.registry),
                                                       rel=1e-5)
    assert body["model"]["sha256"] == sha256(run / "model.safetensors")
    assert body["model"]["step"] == 2 and body["model"]["method"] == "pix2pix"
    data = body["data"]
    assert data["name"] == "synthetic_shapes" and data["split"] == "val" and data["num_images"] == 4
    assert len(data["fingerprint"]) == 64 and data["fingerprint"] == body["protocol"]["inputs_sha256"]
    protocol = body["protocol"]
    assert protocol["split"] == "val" and protocol["precision"] == "fp32"
    assert protocol["generators"]["G"]["test_mode"] == "eval" and protocol["metrics"]["tiny_mae"]["scale"] == 1.0
    assert body["translate_version"] and body["format"] == 1


def test_paired_data_defaults_to_l1_psnr_ssim(plugins, run, capsys):
    assert evaluate(plugins, run, "--split", "val", "--precision", "bf16") == 0
    body = json.loads((run / "evaluation.json").read_text())
    assert list(body["values"]) == ["l1", "psnr", "ssim"] and body["protocol"]["precision"] == "bf16"
    assert body["higher_is_better"] == {"l1": False, "psnr": True, "ssim": True}
    assert all(body["protocol"]["metrics"][m]["library"].startswith("torchmetrics") for m in ("l1", "psnr", "ssim"))
    table = capsys.readouterr().out
    assert all(name in table for name in ("l1", "psnr", "ssim", "bf16"))


def test_default_split_is_test_and_falls_back_to_val_with_a_note(plugins, run, tmp_path, capsys):
    import shutil
    import tomllib

    import tomli_w

    assert evaluate(plugins, run, "--metrics", "tiny_mae") == 0  # synthetic_shapes has a test split
    assert "no 'test' split" not in capsys.readouterr().err
    assert json.loads((run / "evaluation.json").read_text())["data"]["split"] == "test"
    folder = tmp_path / "pairs"  # the same pairs as a paired_ab folder without a test split
    for split in ("train", "val"):
        shutil.copytree(data_root(run) / split, folder / split)
    recipe = tomllib.loads((run / "recipe.toml").read_text())
    recipe["data"] = {"name": "paired_ab", "options": {"root": str(folder), "preprocess": "none"}}
    (tmp_path / "pairs.toml").write_text(tomli_w.dumps(recipe))
    out = tmp_path / "e.json"
    assert evaluate(plugins, run, "--data", tmp_path / "pairs.toml", "--metrics", "tiny_mae", "--out", out) == 0
    assert "no 'test' split" in capsys.readouterr().err
    assert json.loads(out.read_text())["data"]["split"] == "val"
    with pytest.raises(DataError, match="'test'.*--split"):  # asked for: no fallback
        evaluate(plugins, run, "--data", tmp_path / "pairs.toml", "--metrics", "tiny_mae", "--split", "test")


def test_metric_options_from_the_command_line(plugins, run, tmp_path):
    evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--out", tmp_path / "one.json")
    evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--set", "tiny_mae.scale=2",
             "--out", tmp_path / "two.json")
    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "two"))
    assert two["values"]["tiny_mae"] == pytest.approx(2 * one["values"]["tiny_mae"])
    assert two["protocol"]["metrics"]["tiny_mae"]["options"] == {"scale": 2.0}
    assert not (run / "evaluation.json").exists()  # --out: nothing next to the model
    with pytest.raises(TranslateError, match=r"--set tiny_mae\.bogus: .*unknown"):
        evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--set", "tiny_mae.bogus=1")
    with pytest.raises(TranslateError, match=r"--set fid\.weights=x: .*one of the metrics evaluated \(tiny_mae\)"):
        evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--set", "fid.weights=x")


def test_number_of_images_and_batch_size(plugins, run):
    evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--num-images", "3", "--batch-size", "2")
    body = json.loads((run / "evaluation.json").read_text())
    assert body["data"]["num_images"] == 3 and body["protocol"]["batch_size"] == 2
    with pytest.raises(TranslateError, match="--num-images 0: must be at least 1"):
        evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae", "--num-images", "0")


def test_unknown_metric_suggests_close_matches(plugins, run):
    with pytest.raises(TranslateError, match=r"--metrics: unknown metric 'tiny_maee'; did you mean 'tiny_mae'"):
        evaluate(plugins, run, "--split", "val", "--metrics", "tiny_maee")
    assert not (run / "evaluation.json").exists()


def test_the_command_line_runs_eval(plugins, run, install_plugins, capsys):
    install_plugins(plugins)
    assert main(["eval", str(run), "--split", "val", "--metrics", "tiny_mean", "--batch-size", "3"]) == 0
    assert json.loads((run / "evaluation.json").read_text())["protocol"]["batch_size"] == 3
    assert main(["eval", str(run), "--split", "val", "--metrics", "nope"]) == 2
    assert "error: --metrics: unknown metric 'nope'" in capsys.readouterr().err


def test_best_needs_a_best_checkpoint(plugins, run):
    with pytest.raises(TranslateError, match=r"no model-best\.safetensors \(and best\.json\).*\[eval\]\.best"):
        evaluate(plugins, run, "--best", *METRICS)


# --------------------------------------------------------------------------- --data


def test_data_folder_points_the_training_data_set_elsewhere(plugins, run, tmp_path):
    evaluate(plugins, run, "--split", "val", *METRICS)
    first = json.loads((run / "evaluation.json").read_text())
    other = copy_folder(data_root(run), tmp_path / "other")
    victim = sorted((other / "val").glob("*.png"))[0]
    Image.open(victim).transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(victim)
    assert evaluate(plugins, run, "--data", other, "--split", "val", *METRICS, "--out", tmp_path / "e.json") == 0
    body = json.loads((tmp_path / "e.json").read_text())
    assert body["data"]["folder"] == str(other) and body["data"]["name"] == "synthetic_shapes"
    assert body["data"]["fingerprint"] != first["data"]["fingerprint"]
    assert body["values"]["tiny_mae"] == pytest.approx(independent_mae(run, other, plugins.registry), rel=1e-5)


def bare_model_file(folder: Path, tmp_path: Path, edit=None) -> Path:
    """``folder``'s model.safetensors alone in a folder of its own (no run recipe, no config.json), its
    ``translate`` metadata changed by ``edit``."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = tmp_path / "bare" / "model.safetensors"
    path.parent.mkdir()
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    body = json.loads(header["translate"])
    if edit is not None:
        edit(body)
    header["translate"] = json.dumps(body)
    save_file(tensors, str(path), metadata=header)
    return path


def test_data_folder_on_a_model_file_uses_the_options_it_was_trained_with(plugins, pix2pix_model, run, tmp_path,
                                                                          capsys):
    trained = load_model(pix2pix_model, registry=plugins.registry).meta.recipe
    assert trained.data == "synthetic_shapes" and trained.data_options["count"] == 24  # recorded when written
    shapes = copy_folder(data_root(run), tmp_path / "shapes")
    model = bare_model_file(pix2pix_model, tmp_path)
    assert evaluate(plugins, model, "--data", shapes, "--split", "val", *METRICS, "--out", tmp_path / "m.json") == 0
    assert "differ" not in capsys.readouterr().err
    assert evaluate(plugins, run, "--data", shapes, "--split", "val", *METRICS, "--out", tmp_path / "r.json") == 0
    from_model, from_run = (json.loads((tmp_path / f).read_text()) for f in ("m.json", "r.json"))
    options = from_model["data"]["options"]
    assert (options["count"], options["image_size"], options["root"]) == (24, 32, str(shapes))  # not 400, 64
    assert from_model["data"]["fingerprint"] == from_run["data"]["fingerprint"]  # the very same images
    assert from_model["values"] == from_run["values"]


def test_data_option_overrides_say_what_differs_from_training(plugins, pix2pix_model, run, tmp_path, capsys):
    shapes = copy_folder(data_root(run), tmp_path / "shapes")
    model = bare_model_file(pix2pix_model, tmp_path)
    assert evaluate(plugins, model, "--data", shapes, "--split", "val", "--set", "data.options.max_items=2",
                    "--set", "tiny_mae.scale=2.0", *METRICS, "--out", tmp_path / "e.json") == 0
    err = capsys.readouterr().err
    assert ("note: data set 'synthetic_shapes' is evaluated with options that differ from the ones the model was "
            "trained with: max_items = 2 (trained with None)") in err
    assert "root" not in err.split("trained with:")[1]  # --data FOLDER is meant to differ
    body = json.loads((tmp_path / "e.json").read_text())
    assert body["data"]["num_images"] == 2 and body["protocol"]["metrics"]["tiny_mae"]["options"] == {"scale": 2.0}
    with pytest.raises(RecipeError, match="data.options.max_item: unknown key"):
        evaluate(plugins, model, "--data", shapes, "--set", "data.options.max_item=2", *METRICS)


def test_an_older_model_file_without_the_options_gets_the_defaults_with_a_note(plugins, pix2pix_model, tmp_path,
                                                                               capsys):
    model = bare_model_file(pix2pix_model, tmp_path, lambda body: body["recipe"].pop("data_options"))
    assert load_model(model, registry=plugins.registry).meta.recipe.data_options is None  # such files still load
    small = ["--set", "data.options.count=4", "--set", "data.options.val_count=2", "--set", "data.options.test_count=1",
             "--set", "data.options.image_size=32"]  # the defaults would generate 466 images of 64x64
    (tmp_path / "shapes").mkdir()
    assert evaluate(plugins, model, "--data", tmp_path / "shapes", "--split", "val", *small, *METRICS,
                    "--out", tmp_path / "e.json") == 0
    assert ("does not record the options of its data set (written by an older translate): data set "
            "'synthetic_shapes' is built with its default options") in capsys.readouterr().err
    options = json.loads((tmp_path / "e.json").read_text())["data"]["options"]
    assert options["count"] == 4 and options["seed"] == 0 and options["flip"] is True  # given, else the defaults


def test_data_recipe_on_a_model_folder(plugins, pix2pix_model, run, tmp_path):
    model = copy_folder(pix2pix_model, tmp_path / "model")
    pairs = tmp_path / "pairs"
    (pairs / "test").mkdir(parents=True)
    for path in sorted((data_root(run) / "val").glob("*.png"))[:3]:
        (pairs / "test" / path.name).write_bytes(path.read_bytes())
    recipe = tmp_path / "eval.toml"
    recipe.write_text((run / "recipe.toml").read_text().split("[data]")[0] + f"""
[data]
name = "paired_ab"
[data.options]
root = "{pairs.as_posix()}"
load_size = 32
crop_size = 32
[train]
steps = 1
[eval]
metrics = ["tiny_mae"]
split = "test"
[eval.options.tiny_mae]
scale = 3.0
""")
    assert evaluate(plugins, model, "--data", recipe) == 0
    body = json.loads((model / "evaluation.json").read_text())
    assert body["data"]["name"] == "paired_ab" and body["data"]["split"] == "test" and body["data"]["num_images"] == 3
    assert list(body["values"]) == ["tiny_mae"]  # the recipe's [eval].metrics, with its options
    assert body["protocol"]["metrics"]["tiny_mae"]["options"] == {"scale": 3.0}
    assert body["model"]["sha256"] == sha256(model / "model.safetensors")


def test_a_bare_model_needs_data(plugins, pix2pix_model, tmp_path):
    model = copy_folder(pix2pix_model, tmp_path / "model")
    with pytest.raises(DataError, match="not a run folder.*pass --data RECIPE.toml.*--data FOLDER"):
        evaluate(plugins, model, *METRICS)
    with pytest.raises(DataError, match="no such recipe file or data folder"):
        evaluate(plugins, model, "--data", tmp_path / "missing", *METRICS)
    assert not (model / "evaluation.json").exists()


def test_a_hub_model_needs_out(plugins, monkeypatch, pix2pix_model):
    import translate.models.source

    monkeypatch.setattr(translate.models.source, "download", lambda repo, revision: pix2pix_model)
    with pytest.raises(TranslateError, match="Hub model.*pass --out FILE"):
        evaluate(plugins, "hf://someone/model", *METRICS)


# --------------------------------------------------------------------------- CycleGAN


def test_cyclegan_both_directions_and_one(plugins, cyclegan_run, tmp_path):
    run = copy_folder(cyclegan_run, tmp_path / "crun")
    assert evaluate(plugins, run, "--metrics", "tiny_mean") == 0
    body = json.loads((run / "evaluation.json").read_text())
    assert set(body["values"]) == {"AtoB/tiny_mean", "AtoB/tiny_mean_real", "BtoA/tiny_mean", "BtoA/tiny_mean_real"}
    assert set(body["protocol"]["generators"]) == {"AtoB", "BtoA"} and body["data"]["split"] == "test"
    assert body["values"]["AtoB/tiny_mean_real"] != body["values"]["BtoA/tiny_mean_real"]  # each its own domain
    evaluate(plugins, run, "--metrics", "tiny_mean", "--direction", "BtoA", "--out", tmp_path / "b.json")
    one = json.loads((tmp_path / "b.json").read_text())
    assert one["values"]["tiny_mean"] == pytest.approx(body["values"]["BtoA/tiny_mean"])
    with pytest.raises(TranslateError, match="unpaired"):  # a full-reference metric on unpaired data
        evaluate(plugins, run, "--metrics", "tiny_mae", "--out", tmp_path / "c.json")
    with pytest.raises(TranslateError, match="unpaired.*--metrics"):  # no default metrics for unpaired data
        evaluate(plugins, run, "--out", tmp_path / "d.json")


# --------------------------------------------------------------------------- the other commands wired here


def test_translate_run_writes_the_report_and_survives_its_failure(tmp_path, monkeypatch, capsys):
    import translate.apps.report
    import translate.engine.trainer

    calls = []
    monkeypatch.setattr(translate.engine.trainer, "train", lambda recipe, **kw: type("R", (), {"run_dir": tmp_path}))
    monkeypatch.setattr(translate.apps.report, "write_report", lambda run: calls.append(run) or run / "report.html")
    assert main(["run", "recipe.toml"]) == 0
    assert calls == [tmp_path] and f"run report: {tmp_path / 'report.html'}" in capsys.readouterr().out

    def broken(run):
        raise RuntimeError("no matplotlib backend\nsecond line")

    monkeypatch.setattr(translate.apps.report, "write_report", broken)
    assert main(["run", "recipe.toml"]) == 0  # the run succeeded; the report is a by-product
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: the run report was not written (RuntimeError: no matplotlib backend); write it "
                   f"later with: translate report {tmp_path}"]


def test_report_and_export_best_are_wired(tmp_path, monkeypatch, pix2pix_run):
    import translate.commands.report

    seen = []
    monkeypatch.setattr(translate.commands.report, "report_cli", lambda args: seen.append(args.run) or 0)
    assert main(["report", str(tmp_path)]) == 0 and seen == [str(tmp_path)]
    assert main(["export", str(pix2pix_run), "--best", "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out").exists()

"""Evaluations in model files and model cards: ``translate export`` carries the evaluation measured on
the very file it exports (values and protocol), ``--best`` exports the best checkpoint with its step's
values, a stale ``evaluation.json`` is left out, and the card shows the table and the protocol."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.support.model_runs import copy_folder
from tests.support.tiny_plugin import TinyMetricsPlugin
from translate.commands.eval import eval_cli
from translate.errors import TranslateError
from translate.models import load_model, read_config, read_tensors, write_model_file
from translate.models.export import export_cli, export_run, model_card
from translate.models.schema import EvaluationMeta
from translate.plugin.loading import load_plugins


@pytest.fixture(scope="module")
def plugins():
    return load_plugins(extra=[("tiny-metrics", TinyMetricsPlugin())])


@pytest.fixture
def run(tmp_path, pix2pix_run) -> Path:
    return copy_folder(pix2pix_run, tmp_path / "run")


def evaluate(plugins, *argv: object) -> dict:
    from translate.commands.main import build_parser

    args = build_parser(plugins.registry, "eval").parse_args(["eval", *map(str, argv)])
    assert eval_cli(args, registry=plugins.registry) == 0
    return json.loads(Path(args.out or Path(argv[0]) / ("evaluation-best.json" if args.best else
                                                         "evaluation.json")).read_text())


def card_section(folder: Path, title: str = "## Evaluation") -> str:
    card = (folder / "README.md").read_text()
    start = card.index(title)
    return card[start:card.index("\n## ", start + 1)]


def export(run: Path, out: Path, *, best: bool = False, registry=None) -> tuple[Path, list[str]]:
    notes: list[str] = []
    return export_run(run, out, best=best, notes=notes, registry=registry), notes


def test_export_carries_the_evaluation_and_the_card_shows_it(plugins, run, tmp_path):
    body = evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae,tiny_mean")
    out, notes = export(run, tmp_path / "model", registry=plugins.registry)
    assert notes == []
    e = read_config(out / "config.json").evaluation
    assert e is not None and e.values == body["values"] and e.model_sha256 == body["model"]["sha256"]
    assert e.higher_is_better == body["higher_is_better"] and e.protocol == body["protocol"]
    assert (e.split, e.num_images, e.data, e.step) == ("val", 4, "synthetic_shapes", 2)
    assert e.data_fingerprint == body["data"]["fingerprint"]
    assert load_model(out, registry=plugins.registry).meta.evaluation == e  # the model file holds it too
    section = card_section(out)
    assert "the `val` split of `synthetic_shapes` (4 images) at step 2" in section
    assert f"| tiny_mae | {body['values']['tiny_mae']:.4g} | lower |" in section
    assert "| tiny_mean_real |" in section and "Not evaluated" not in section
    for line in ("- split: `val`", "- number of images: `4`", "- precision: `fp32`", "- test_mode: `eval`",
                 f"- data fingerprint: `{body['data']['fingerprint']}`", "- tiny_mae:", "- scale: `1`"):
        assert line in section, line


def test_a_stale_evaluation_is_left_out(plugins, run, tmp_path, capsys):
    evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae")
    body = json.loads((run / "evaluation.json").read_text())
    body["model"]["sha256"] = "0" * 64  # measured on other weights
    (run / "evaluation.json").write_text(json.dumps(body))
    out, notes = export(run, tmp_path / "model", registry=plugins.registry)
    assert read_config(out / "config.json").evaluation is None
    assert "Not evaluated" in card_section(out)
    assert len(notes) == 1 and "computed on another model file" in notes[0] and "evaluation.json" in notes[0]
    export_cli(argparse.Namespace(run=str(run), out=str(tmp_path / "again"), onnx=False, best=False),
               registry=plugins.registry)
    assert "note: " in capsys.readouterr().err


def make_best(run: Path, step: int = 1) -> Path:
    """A best checkpoint as training keeps one: other weights than the last model, best.json, eval/* logged."""
    loaded = load_model(run)
    tensors = {k: v + 0.01 if v.is_floating_point() else v for k, v in read_tensors(loaded.path).items()}
    best = write_model_file(run / "model-best.safetensors", tensors, loaded.meta)
    (run / "best.json").write_text(json.dumps({"key": "tiny_mae", "value": 0.25, "step": step,
                                               "higher_is_better": False, "checkpoint": f"checkpoints/step-{step}"}))
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write(json.dumps({"step": step, "eval/tiny_mae": 0.25, "eval/tiny_mean": -0.5}) + "\n")
    return best


def test_export_best_uses_the_best_steps_values(plugins, run, tmp_path):
    evaluate(plugins, run, "--split", "val", "--metrics", "tiny_mae,tiny_mean")  # of the last model
    best = make_best(run)
    out, notes = export(run, tmp_path / "best", best=True, registry=plugins.registry)
    assert read_tensors(out / "model.safetensors").keys() == read_tensors(best).keys()
    assert all((read_tensors(out / "model.safetensors")[k] == v).all() for k, v in read_tensors(best).items())
    config = read_config(out / "config.json")
    assert config.evaluation.values == {"tiny_mae": 0.25, "tiny_mean": -0.5} and config.evaluation.step == 1
    assert config.evaluation.protocol["split"] == "val"  # the run's evaluation protocol
    assert config.training.steps == 1
    assert any("computed on another model file" in n for n in notes)  # evaluation.json is the last model's
    assert "at step 1" in card_section(out)


def test_eval_best_then_export_best(plugins, run, tmp_path):
    make_best(run)
    body = evaluate(plugins, run, "--best", "--split", "val", "--metrics", "tiny_mae")
    assert body["model"]["best"] is True and body["model"]["step"] == 1
    assert body["model"]["path"].endswith("model-best.safetensors")
    assert not (run / "evaluation.json").exists()  # the last model's evaluation is not overwritten
    out, notes = export(run, tmp_path / "best", best=True, registry=plugins.registry)
    assert notes == [] and read_config(out / "config.json").evaluation.values == body["values"]


def test_export_best_without_a_best_checkpoint(run, tmp_path):
    with pytest.raises(TranslateError, match=r"no model-best\.safetensors \(and best\.json\).*\[eval\]\.best"):
        export_run(run, tmp_path / "out", best=True)
    assert not (tmp_path / "out").exists()


def test_the_card_escapes_the_protocol(pix2pix_model):
    meta = load_model(pix2pix_model).meta
    evaluation = EvaluationMeta(values={"psnr": "inf", "AtoB/ssim": 0.5}, higher_is_better={"psnr": True},
                                split="te|st", protocol={"metrics": {"x*y": {"net": "<script>", "tick": "a`b"}}})
    card = model_card(meta.model_copy(update={"evaluation": evaluation}))
    assert "| psnr | inf | higher |" in card and "| AtoB/ssim | 0.5 |  |" in card
    assert "<script>" not in card and "&lt;script>" in card and "x\\*y" in card and "te\\|st" in card
    assert "`a'b`" in card


@pytest.mark.parametrize("bad", [
    {"values": {}},
    {"values": {"psnr": float("nan")}},
    {"values": {"bad key!": 1.0}},
    {"values": {"psnr": 1.0}, "protocol": {"_target_": "os.system"}},
    {"values": {"psnr": 1.0}, "protocol": {"a": [[[[[[[[[1]]]]]]]]]}},
    {"values": {"psnr": 1.0}, "protocol": {"text": "x" * 4000}},
    {"values": {"psnr": 1.0}, "protocol": {f"k{i}": "x" * 1000 for i in range(40)}},  # > 32 KiB in all
    {"values": {"psnr": 1.0}, "protocol": {"text": "\x1b[31m"}},
    {"values": {"psnr": 1.0}, "surprise": 1},
])
def test_the_evaluation_schema_is_strict(bad):
    with pytest.raises(ValidationError):
        EvaluationMeta.model_validate(bad)


def test_final_and_best_are_both_shown_with_the_split_they_were_chosen_on(plugins, run, tmp_path):
    body = evaluate(plugins, run, "--split", "test", "--metrics", "tiny_mae,tiny_mean")  # the final model, step 2
    make_best(run)  # the best checkpoint: step 1, chosen by tiny_mae
    final, _ = export(run, tmp_path / "final", registry=plugins.registry)
    other = read_config(final / "config.json").evaluation.other_checkpoint
    assert (other.label, other.step, other.chosen_by, other.split) == ("best", 1, "tiny_mae", "test")
    assert other.values == {"tiny_mae": 0.25, "tiny_mean": -0.5}
    section = card_section(final)
    assert "The best checkpoint was chosen by `tiny_mae` on the `test` split. This model is the final one" in section
    assert f"| tiny_mae | {body['values']['tiny_mae']:.4g} | 0.25 |" in section
    assert "| metric | this model, final (step 2) | best (step 1) |" in section
    assert "selection on the test set" in section
    best, _ = export(run, tmp_path / "best", best=True, registry=plugins.registry)
    other = read_config(best / "config.json").evaluation.other_checkpoint
    assert (other.label, other.step) == ("final", 2) and other.values["tiny_mae"] == body["values"]["tiny_mae"]
    assert "| metric | this model, best (step 1) | final (step 2) |" in card_section(best)
    (run / "best.json").write_text(json.dumps({"key": "tiny_mae", "value": 0.1, "step": 2}))  # best = final step
    again, _ = export(run, tmp_path / "same", registry=plugins.registry)
    assert read_config(again / "config.json").evaluation.other_checkpoint is None
    assert "Final and best" not in card_section(again)


def test_the_card_shows_published_numbers(plugins, run, tmp_path):
    table = ('\n[eval]\nmetrics = ["tiny_mae"]\nsplit = "val"\n[[eval.published]]\nmetric = "tiny_mae"\nvalue = 0.5\n'
             'source = "Tiny et al. 2024, Table 3"\nprotocol = { split = "test" }\n')
    (tmp_path / "r.toml").write_text((run / "recipe.toml").read_text() + table)
    evaluate(plugins, run, "--data", tmp_path / "r.toml")
    out, _ = export(run, tmp_path / "model", registry=plugins.registry)
    (p,) = read_config(out / "config.json").evaluation.published
    assert (p.metric, p.published, p.comparable, p.differs) == ("tiny_mae", 0.5, False,
                                                                ["split: val here, test published"])
    section = card_section(out)
    assert "### Published results" in section
    assert "| tiny_mae | Tiny et al. 2024, Table 3 | 0.5 |" in section and "no: split: val here, test published" in section

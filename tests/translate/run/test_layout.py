"""RunFolder names every file of a run folder once: what the trainer writes is what it names, and
the readers' shared pieces (last metrics record, one step's metrics, loss keys) read them."""

from __future__ import annotations

import json
from pathlib import Path

from translate.evaluation.record import BEST_MODEL_FILENAME, BEST_RECORD_FILENAME, EVALUATION_FILENAME
from translate.models.schema import MODEL_FILENAME
from translate.run.layout import NOT_LOSSES, RunFolder, loss_keys


def test_a_finished_run_holds_what_the_layout_names(pix2pix_run: Path) -> None:
    run = RunFolder(pix2pix_run)
    assert not run.unfinished()
    for path in (run.recipe, run.recipe_json, run.environment, run.metrics, run.model):
        assert path.is_file(), path.name
    assert run.checkpoints.is_dir() and any(run.checkpoints.iterdir())
    assert any(run.samples.glob("step-*.png"))
    written = sorted(p.name for p in run.samples.iterdir())
    assert all(run.sample(int(name[5:13])).name == name for name in written)
    assert run.saved_recipe() == json.loads(run.recipe_json.read_text())
    env = json.loads(run.environment.read_text())  # the plan chosen, beside the CPU features it depends on
    assert env["speed_plan"].split(":")[0] == run.saved_recipe()["train"]["speed"] and "features" in env["cpu"]


def test_the_names_other_packages_use_are_the_layouts() -> None:
    assert RunFolder.MODEL == MODEL_FILENAME  # a run's model file is named as in a model folder
    assert (EVALUATION_FILENAME, BEST_MODEL_FILENAME, BEST_RECORD_FILENAME) == (
        RunFolder.EVALUATION, RunFolder.BEST_MODEL, RunFolder.BEST_RECORD)


def test_metrics_readers(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    assert run.last_metrics() is None and run.metrics_at(2) == {}
    lines = [{"step": 1, "G": 1.0}, {"step": 2, "G": 0.5, "lr_G": 2e-4, "images_per_s": 3.0},
             {"step": 2, "eval/psnr": 20.0}]
    run.metrics.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"step": 3, "G"')  # cut by a kill
    assert run.last_metrics() == lines[-1]
    assert run.metrics_at(2) == {**lines[1], **lines[2]}
    assert loss_keys(run.metrics_at(2)) == ["G"]
    assert {"step", "time", "epoch", "images_per_s", "data_wait"} == NOT_LOSSES
    run.checkpoints.mkdir()
    assert run.unfinished()


def test_the_best_record_is_written_and_read_here(tmp_path: Path) -> None:
    """best.json: one writer (the trainer, through write_best) and one reader for resume, eval --best and export."""
    from translate.engine.evaluate import read_best

    run = RunFolder(tmp_path)
    assert run.best() is None and read_best(tmp_path) is None
    record = {"key": "psnr", "value": "inf", "step": 4, "higher_is_better": True, "checkpoint": "checkpoints/x"}
    run.write_best(record)
    assert run.best() == record and json.loads(run.best_record.read_text()) == record
    assert read_best(tmp_path)["value"] == float("inf")  # "inf" as JSON keeps the file standard
    for broken in ('{"key": "psnr", "value": 1.0, "step": true}', '{"key": "psnr", "value": 1.0}', "[1]", "{"):
        run.best_record.write_text(broken)
        assert run.best() is None, broken
    run.best_record.write_text('{"key": "psnr", "value": "high", "step": 2}')
    assert run.best() is not None and read_best(tmp_path) is None  # a step, but not a metric value

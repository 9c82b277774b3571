"""Damaged checkpoints fall back to the previous whole one; odd folder names are ignored; a full
disk while saving is one clear error that leaves no debris."""

from __future__ import annotations

import errno
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.commands.main import main
from translate.engine.trainer import train
from translate.run.checkpoint import list_checkpoints
from translate.run.nospace import DiskFull
from translate.run.resume import checkpoint_problem


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory, shapes_root: Path) -> tuple[Path, Path]:
    """A tiny run stopped at step 6 (checkpoints 3 and 6); tests copy it before changing anything."""
    root = tmp_path_factory.mktemp("stopped")
    recipe = write_recipe(PIX2PIX, root / "tiny.toml", data=shapes_root, run=root / "run")
    try:
        train(recipe, max_steps=6)
    finally:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    return recipe, root / "run"


def _copy(stopped_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    recipe, run = stopped_run
    shutil.copytree(run, tmp_path / "run")
    return recipe, tmp_path / "run"


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGE = {
    "weights deleted": (lambda c: (c / "networks.safetensors").unlink(), "networks.safetensors is missing"),
    "weights truncated": (lambda c: _truncate(c / "networks.safetensors"), "networks.safetensors is damaged"),
    "manifest corrupted": (lambda c: (c / "manifest.json").write_text('{"format": 1, "progr'),
                           "manifest.json is unreadable"),
    "optimizer deleted": (lambda c: (c / "optimizers.safetensors").unlink(), "optimizers.safetensors is missing"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(
    kind: str, stopped_run: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe, run = _copy(stopped_run, tmp_path)
    damage, why = DAMAGE[kind]
    damage(run / "checkpoints" / "step-00000006")
    resumed = train(recipe, output_dir=str(run), resume=True)
    out = capsys.readouterr().out
    assert f"checkpoint {run / 'checkpoints' / 'step-00000006'} is damaged: {why}" in out
    assert "falling back to step-00000003" in out and "from step-00000003 (step 3" in out
    assert resumed.step == 8
    # the damaged one is kept aside for inspection, never used again
    assert (run / "checkpoints" / "step-00000006.damaged").is_dir()
    assert [p.name for p in list_checkpoints(run)] == ["step-00000003", "step-00000006", "step-00000008"]


def test_no_whole_checkpoint_is_a_clear_error(stopped_run: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    recipe, run = _copy(stopped_run, tmp_path)
    (run / "checkpoints" / "step-00000006" / "networks.safetensors").unlink()
    _truncate(run / "checkpoints" / "step-00000003" / "method.safetensors")
    status = main(["run", str(recipe), "--output-dir", str(run), "--resume"])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err.startswith("error: --resume: no whole checkpoint in")
    assert "step-00000006: networks.safetensors is missing" in err
    assert "step-00000003: method.safetensors is damaged" in err
    # nothing was renamed or removed
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000003", "step-00000006"]


def test_foreign_folder_names_beside_the_checkpoints_are_ignored(stopped_run: tuple[Path, Path],
                                                                 tmp_path: Path) -> None:
    recipe, run = _copy(stopped_run, tmp_path)
    ckpts = run / "checkpoints"
    for name in ("step-00000010.old", "step-abc", "notes", "step-00000009.bak"):
        shutil.copytree(ckpts / "step-00000006", ckpts / name)
    assert [p.name for p in list_checkpoints(run)] == ["step-00000003", "step-00000006"]
    assert train(recipe, output_dir=str(run), resume=True).step == 8
    assert (ckpts / "step-00000010.old").is_dir() and (ckpts / "notes").is_dir()  # the user's, untouched


def test_a_whole_checkpoint_has_no_problem(stopped_run: tuple[Path, Path]) -> None:
    _, run = stopped_run
    assert checkpoint_problem(run / "checkpoints" / "step-00000006") is None
    manifest = json.loads((run / "checkpoints" / "step-00000006" / "manifest.json").read_text())
    assert manifest["progress"]["step"] == 6


def _no_tmp(run: Path) -> None:
    left = [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    assert left == [], left


def test_disk_full_during_the_first_checkpoint(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("translate.run.checkpoint.save_file", full)
    with pytest.raises(DiskFull) as info:
        train(tiny_recipe)
    run = tiny_recipe.parent / "run"
    message = str(info.value)
    assert "no space left on the device while writing checkpoint step-00000003" in message
    assert f"to {run / 'checkpoints'} (it needs about " in message
    assert re.search(r"needs about \d+\.\d MiB", message)  # weights + optimizer moments of the tiny nets
    assert "no earlier checkpoint exists" in message
    _no_tmp(run)
    assert list((run / "checkpoints").iterdir()) == []


def test_disk_full_later_keeps_the_last_good_checkpoint(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import translate.run.state as state

    original, calls = state.save_file, []

    def fills_up(tensors: object, path: str, *args: object, **kwargs: object) -> None:
        calls.append(path)
        if "step-00000006" in path and "optimizers" in path:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(tensors, path, *args, **kwargs)

    monkeypatch.setattr(state, "save_file", fills_up)
    run = tiny_recipe.parent / "run"
    status = main(["run", str(tiny_recipe)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "while writing checkpoint step-00000006" in err
    assert f"the last good checkpoint {run / 'checkpoints' / 'step-00000003'} is intact" in err
    _no_tmp(run)
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["step-00000003"]
    monkeypatch.setattr(state, "save_file", original)
    assert train(tiny_recipe, resume=True).step == 8


def test_disk_full_during_the_model_export(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", full)  # the model writer imports it when it writes
    with pytest.raises(DiskFull, match="while writing the model file") as info:
        train(tiny_recipe)
    run = tiny_recipe.parent / "run"
    assert str(run / "model.safetensors") in str(info.value)
    assert f"the last good checkpoint {run / 'checkpoints' / 'step-00000008'} is intact" in str(info.value)
    assert not (run / "model.safetensors").exists()
    _no_tmp(run)
    assert [p.name for p in list_checkpoints(run)][-1] == "step-00000008"


def test_other_write_errors_are_not_called_disk_full(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr("translate.run.checkpoint.save_file", denied)
    with pytest.raises(PermissionError):
        train(tiny_recipe)
    _no_tmp(tiny_recipe.parent / "run")


def test_a_checkpoint_of_another_network_layout_is_a_clear_error(stopped_run: tuple[Path, Path],
                                                                 tmp_path: Path) -> None:
    """E.g. a run started by translate 0.1.0, whose U-Net had a bias the authors' layout has not."""
    import torch
    from safetensors.torch import load_file, save_file

    from translate.errors import TranslateError

    recipe, run = _copy(stopped_run, tmp_path)
    for ckpt in list_checkpoints(run):
        weights = load_file(str(ckpt / "networks.safetensors"))
        weights["G.down.0.bias"] = torch.zeros(1)
        save_file(weights, str(ckpt / "networks.safetensors"))
    with pytest.raises(TranslateError, match=r"network 'G' does not fit.*has G?\.?down\.0\.bias.*bias = \"v0\.1\""):
        train(recipe, output_dir=str(run), resume=True)

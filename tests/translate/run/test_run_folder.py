"""The run folder: one training process at a time (an OS lock), and a re-run into a folder with
metrics but no checkpoint starts its log afresh."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from translate.commands.main import main
from translate.engine.trainer import train
from translate.run.lock import LOCK_NAME, RunFolderBusy, RunLock
from translate.run.logs import read_metrics

_HOLD = textwrap.dedent("""
    import sys, time
    from translate.run.lock import RunLock
    with RunLock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.readline()  # hold it until the test closes our stdin
""")


def test_a_second_run_on_a_busy_folder_refuses_at_once(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tiny_recipe.parent / "run"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(run)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status = main(["run", str(tiny_recipe)])
        err = capsys.readouterr().err
        assert status == 2 and "Traceback" not in err
        assert err.strip() == (f"error: run folder {run} is in use by another translate process (pid {holder.pid}); "
                               "wait for it to finish, stop it, or choose another --output-dir (nothing was changed)")
        assert sorted(p.name for p in run.iterdir()) == [LOCK_NAME]  # nothing was written
    finally:
        holder.communicate("\n", timeout=30)
    # the holder is gone: the OS released its lock, and its pid left in the file does not matter
    assert (run / LOCK_NAME).read_text().strip() == str(holder.pid)
    assert train(tiny_recipe, max_steps=2).step == 2


def test_resume_on_a_busy_folder_refuses(tiny_recipe: Path) -> None:
    run = tiny_recipe.parent / "run"
    assert train(tiny_recipe, max_steps=3).step == 3
    with RunLock(run):  # another open file description: flock conflicts even in one process
        with pytest.raises(RunFolderBusy, match=rf"run folder {run} is in use .*pid {os.getpid()}\)"):
            train(tiny_recipe, resume=True)


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(tiny_recipe: Path) -> None:
    run = tiny_recipe.parent / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / LOCK_NAME).write_text(dead.stdout)
    assert train(tiny_recipe, max_steps=2).step == 2
    assert (run / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_the_lock_is_released_when_the_run_fails(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from translate_pix2pix.method import Pix2Pix

    def broken(self, batch, ctx):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(Pix2Pix, "train_step", broken)
    with pytest.raises(RuntimeError, match="boom"):
        train(tiny_recipe)
    with RunLock(tiny_recipe.parent / "run"):  # would raise RunFolderBusy if still held
        pass


def test_metrics_without_checkpoint_start_afresh(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tiny_recipe.parent / "run"
    run.mkdir()
    old = '{"step": 2, "D": 1.0}\n{"step": 4, "D": 0.9}\n'
    (run / "metrics.jsonl").write_text(old)  # a run that died before its first checkpoint
    train(tiny_recipe)
    assert [r["step"] for r in read_metrics(run)] == [2, 4, 6, 8]
    assert (run / "metrics.jsonl.previous").read_text() == old
    assert "left metrics but no checkpoint; starting the log afresh" in capsys.readouterr().out

"""Preemptible runs: ``--resume auto`` starts a run in a folder without a checkpoint (a partial one
left by a kill included) and resumes exactly from one; ``output.checkpoint_minutes`` and SIGUSR1
write checkpoints without stopping; a run killed with SIGKILL at random moments and started again
with the same command line ends with the weights of an uninterrupted run, bit for bit."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.slow_steps import STEP_MARKS, slow_steps_env
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.commands.main import main
from translate.engine import interrupt
from translate.engine.trainer import train
from translate.errors import TranslateError
from translate.recipe import load_recipe
from translate.run.checkpoint import list_checkpoints
from translate.run.lock import LOCK_NAME, RunLock


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, shapes_root: Path) -> Path:
    """The uninterrupted tiny run (8 steps), the reference of the in-process tests."""
    root = tmp_path_factory.mktemp("full")
    recipe = write_recipe(PIX2PIX, root / "tiny.toml", data=shapes_root, run=root / "run")
    try:
        return train(recipe).run_dir
    finally:
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()


def _same(a_file: Path, b_file: Path) -> bool:
    a, b = load_file(str(a_file)), load_file(str(b_file))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _same_run(a: Path, b: Path) -> bool:
    """The same final checkpoint weights and the same model file, bit for bit."""
    return (_same(list_checkpoints(a)[-1] / "networks.safetensors", list_checkpoints(b)[-1] / "networks.safetensors")
            and _same(a / "model.safetensors", b / "model.safetensors"))


def _steps(run: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in list_checkpoints(run)]


def test_resume_auto_starts_a_run_in_a_folder_left_by_a_kill(
    tiny_recipe: Path, full_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tiny_recipe.parent / "run"
    # what a run killed during its first checkpoint leaves: a lock naming a dead process, the environment,
    # metrics lines (the last one cut) and a half-written checkpoint
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    run.mkdir()
    (run / LOCK_NAME).write_text(dead.stdout)
    (run / "environment.json").write_text("{}")
    (run / "metrics.jsonl").write_text('{"step": 2, "D": 1.0}\n{"step": 3, "D"')
    half = run / "checkpoints" / "step-00000003.tmp"
    half.mkdir(parents=True)
    (half / "networks.safetensors").write_bytes(b"\x10\x00\x00")
    assert main(["run", str(tiny_recipe), "--resume", "auto"]) == 0
    out = capsys.readouterr().out
    assert f"--resume auto: no checkpoint in {run / 'checkpoints'}; starting the run from step 0" in out
    assert _steps(run) == [3, 6, 8] and not half.exists()
    assert _same_run(full_run, run)
    assert [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [2, 4, 6, 8]
    assert (run / "metrics.jsonl.previous").read_text().startswith('{"step": 2, "D": 1.0}')  # kept aside


def test_resume_auto_resumes_exactly_from_a_checkpoint(tiny_recipe: Path, full_run: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run = tiny_recipe.parent / "run"
    assert train(tiny_recipe, max_steps=4).step == 4
    # a later save killed halfway: an incomplete folder, ignored
    (run / "checkpoints" / "step-00000006").mkdir()
    assert main(["run", str(tiny_recipe), "--resume", "auto"]) == 0
    assert f"resuming {run} from step-00000004 (step 4" in capsys.readouterr().out
    assert _steps(run) == [3, 4, 6, 8]
    assert _same_run(full_run, run)
    # a finished run started again: nothing left to train, the same model is written again
    assert main(["run", str(tiny_recipe), "--resume", "auto"]) == 0
    assert _steps(run) == [3, 4, 6, 8] and _same_run(full_run, run)


def test_plain_resume_and_no_flag_keep_their_meaning(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tiny_recipe.parent / "run"
    assert main(["run", str(tiny_recipe), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --resume: no checkpoint found in {run / 'checkpoints'}")
    assert "--resume auto starts a new run" in err
    assert train(tiny_recipe, max_steps=3).step == 3
    assert main(["run", str(tiny_recipe)]) == 2
    assert "already holds checkpoints; pass --resume" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a value other than auto is refused by the parser
        main(["run", str(tiny_recipe), "--resume", "always"])
    assert "takes no value, or 'auto' (got 'always')" in capsys.readouterr().err
    with pytest.raises(TranslateError, match="expected True, False or 'auto'"):
        train(tiny_recipe, resume="yes")


def test_resume_auto_refuses_a_folder_whose_checkpoints_are_all_damaged(tiny_recipe: Path) -> None:
    run = tiny_recipe.parent / "run"
    train(tiny_recipe, max_steps=3)
    (run / "checkpoints" / "step-00000003" / "networks.safetensors").unlink()
    with pytest.raises(TranslateError, match="no whole checkpoint"):  # never trains over them
        train(tiny_recipe, resume="auto")
    assert (run / "checkpoints" / "step-00000003").is_dir()


def test_checkpoint_minutes_and_an_exact_resume_from_a_timed_checkpoint(
    tiny_recipe: Path, full_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clock that advances one minute per training step: with checkpoint_minutes = 2 and checkpoint_every
    beyond the run, checkpoints come every second step; resuming from one ends like the uninterrupted run."""
    from translate_pix2pix.method import Pix2Pix

    clock = [0.0]
    original = Pix2Pix.train_step

    def one_minute(self, batch, ctx):  # type: ignore[no-untyped-def]
        clock[0] += 1.0
        return original(self, batch, ctx)

    monkeypatch.setattr(Pix2Pix, "train_step", one_minute)
    monkeypatch.setattr(interrupt, "monotonic_minutes", lambda: clock[0])
    timed = ["output.checkpoint_minutes=2", "output.checkpoint_every=100"]
    run = tiny_recipe.parent / "run"
    train(tiny_recipe, overrides=timed, max_steps=5)
    assert _steps(run) == [2, 4, 5]  # 2 and 4 by the clock, 5 where --max-steps stopped
    shutil.rmtree(list_checkpoints(run)[-1])  # as if killed after the checkpoint of step 4
    resumed = train(tiny_recipe, overrides=timed, resume="auto")
    assert resumed.step == 8 and _steps(run) == [2, 4, 6, 8]
    assert _same_run(full_run, run)


def test_checkpoint_minutes_is_validated(tiny_recipe: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from translate.plugin.loading import get_registry

    recipe, _ = load_recipe(tiny_recipe, ["output.checkpoint_minutes=30"], get_registry())
    assert recipe.output.checkpoint_minutes == 30.0
    assert main(["check", str(tiny_recipe), "--set", "output.checkpoint_minutes=0"]) != 0
    err = capsys.readouterr().err
    assert "output.checkpoint_minutes" in err and "greater than 0" in err


def test_sigusr1_writes_a_checkpoint_and_training_goes_on(tiny_recipe: Path, full_run: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from translate_pix2pix.method import Pix2Pix

    original = Pix2Pix.train_step

    def asked(self, batch, ctx):  # type: ignore[no-untyped-def]
        if ctx.step == 3:  # during the 4th step
            signal.raise_signal(signal.SIGUSR1)
        return original(self, batch, ctx)

    monkeypatch.setattr(Pix2Pix, "train_step", asked)
    before = signal.getsignal(signal.SIGUSR1)
    result = train(tiny_recipe)
    assert result.step == 8 and _steps(result.run_dir) == [3, 4, 6, 8]
    assert _same_run(full_run, result.run_dir)
    assert signal.getsignal(signal.SIGUSR1) == before


def test_data_loader_workers_ignore_sigusr1() -> None:
    """A scheduler may signal every process of the job; SIGUSR1 would end a worker by default."""
    code = textwrap.dedent("""
        import os, signal
        from translate.engine.interrupt import ignore_stop_signals
        ignore_stop_signals(0)
        os.kill(os.getpid(), signal.SIGUSR1)
        print("alive")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout.strip() == "alive", done.stderr


def test_a_lock_held_by_a_killed_process_is_free(tmp_path: Path) -> None:
    hold = "import sys\nfrom translate.run.lock import RunLock\nwith RunLock(sys.argv[1]):\n" \
           "    print('locked', flush=True)\n    sys.stdin.readline()\n"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()  # SIGKILL: no clean-up runs
    holder.wait(timeout=30)
    assert (tmp_path / LOCK_NAME).read_text().strip() == str(holder.pid)  # the stale pid is still written
    with RunLock(tmp_path):  # but the OS released the lock
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_resuming_with_another_number_of_processes_is_refused(tiny_recipe: Path) -> None:
    run = tiny_recipe.parent / "run"
    train(tiny_recipe, max_steps=3)
    manifest = run / "checkpoints" / "step-00000003" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "num_processes": 2}))
    with pytest.raises(TranslateError, match=r"written by a run of 2 training process\(es\), but this run has 1"):
        train(tiny_recipe, resume="auto")


def test_pruning_removes_the_manifest_first(tiny_recipe: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kill while an old checkpoint is removed leaves a folder without a manifest: never listed."""
    monkeypatch.setattr(shutil, "rmtree", lambda *args, **kwargs: None)  # every removal "killed" after the first file
    run = tiny_recipe.parent / "run"
    train(tiny_recipe, overrides=["output.keep_checkpoints=1"])
    assert _steps(run) == [8]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000003", "step-00000006",
                                                                      "step-00000008"]


# -- SIGKILL at random moments

STEP_SECONDS = 0.1
KILL_STEPS = 40
KILL_RECIPE = PIX2PIX.replace("steps = 8", f"steps = {KILL_STEPS}") \
    .replace("checkpoint_every = 3", "checkpoint_every = 5") \
    .replace("keep_checkpoints = 5", "keep_checkpoints = 2\ncheckpoint_minutes = 0.004")
"""40 steps of 0.1 s at least; checkpoints every 5 steps and every 0.24 s (so at steps of no fixed rhythm),
the last 2 kept (old ones are removed while the run goes on)."""
TRAINING_WINDOW = 6 * STEP_SECONDS
"""A kill timed from the first step of an attempt lands within this many seconds of it."""


@dataclass
class KillReport:
    """Where the kills landed (judged from the run folder once the process is dead) and the outcome."""

    kills: int = 0
    before_first_checkpoint: int = 0
    after_first_checkpoint: int = 0
    ended_before_the_kill: int = 0
    mid_save: int = 0
    """Kills that left a half-written checkpoint of their own (a new ``step-N.tmp`` folder)."""
    seconds: float = 0.0
    identical: bool = False
    attempts: list[str] = field(default_factory=list)


def _launch(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``proc`` to end; whether it ended."""
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _wait_until(proc: subprocess.Popen[bytes], ready: Callable[[], bool], limit: float = 600) -> bool:
    """Wait until ``ready()`` (True) or until ``proc`` ends (False)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if ready():
            return True
        time.sleep(0.01)
    return False


def _half_written(run: Path) -> set[str]:
    return {p.name for p in (run / "checkpoints").glob("*.tmp")}


def kill_at_random_moments(recipe: Path, tmp_path: Path, kills: int, seed: int) -> KillReport:
    """Run ``translate run RECIPE --resume auto`` into one folder, SIGKILL it (the whole process group) ``kills``
    times at seeded random moments, then once more to the end; compare its weights with an uninterrupted run of
    the same command line in another folder.

    Each attempt draws when to die: during its start (imports, set-up, the resume itself: a delay from the
    launch shorter than the uninterrupted run took to reach its first step), early in its training (a delay
    from its own first step: mid-step, mid-checkpoint, mid-pruning), or after its next checkpoint."""
    env = slow_steps_env(tmp_path / "hooks", STEP_SECONDS)
    log = tmp_path / "runs.log"

    def command(run: Path) -> list[str]:
        return [sys.executable, "-m", "translate", "run", str(recipe), "--output-dir", str(run), "--resume", "auto"]

    def marked(attempt: str) -> tuple[dict[str, str], Path]:
        marks = tmp_path / f"steps-{attempt}.txt"
        return {**env, STEP_MARKS: str(marks)}, marks

    started = time.monotonic()
    straight = tmp_path / "straight"
    straight_env, marks = marked("straight")
    proc = _launch(command(straight), straight_env, log)
    _wait_until(proc, marks.exists)
    to_first_step = time.monotonic() - started  # the start of a process, on this machine now
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]

    rng = random.Random(seed)
    report = KillReport()
    run = tmp_path / "killed"
    while report.kills < kills:
        at_launch, tmp_at_launch = _steps(run), _half_written(run)
        attempt_env, marks = marked(str(len(report.attempts)))
        launched = time.monotonic()
        proc = _launch(command(run), attempt_env, log)
        try:
            draw = rng.random()
            if draw < 0.4:
                when = "a delay from the launch"
                ended = _wait_for(proc, rng.uniform(0.0, to_first_step))
            elif draw < 0.8:
                when = "a delay from its first step"
                ended = not _wait_until(proc, marks.exists) or _wait_for(proc, rng.uniform(0.0, TRAINING_WINDOW))
            else:
                when = "a delay from its next checkpoint"
                newer = at_launch[-1] if at_launch else 0
                ended = not _wait_until(proc, lambda newer=newer: bool(_steps(run)) and _steps(run)[-1] > newer) \
                    or _wait_for(proc, rng.uniform(0.0, TRAINING_WINDOW))
            if not ended:
                os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait(timeout=60)
        half = _half_written(run) - tmp_at_launch
        after = f"after {time.monotonic() - launched:.1f} s, checkpoints {at_launch} -> {_steps(run)}" + \
            (f", {' '.join(sorted(half))} half written" if half else "")
        if code == -signal.SIGKILL:
            report.kills += 1
            if _steps(run):
                report.after_first_checkpoint += 1
            else:
                report.before_first_checkpoint += 1
            report.mid_save += bool(half)
            report.attempts.append(f"killed ({when}) {after}")
        else:
            assert code == 0, log.read_text()[-3000:]
            report.ended_before_the_kill += 1
            report.attempts.append(f"ended by itself before its kill ({when}) {after}")
    proc = _launch(command(run), env, log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    report.seconds = time.monotonic() - started
    report.identical = _same_run(straight, run)
    assert _steps(run)[-1] == KILL_STEPS
    return report


def _kill_recipe(tmp_path: Path, shapes_root: Path) -> Path:
    from translate.engine.setup import build_dataset
    from translate.plugin.loading import get_registry

    recipe = write_recipe(KILL_RECIPE, tmp_path / "kill.toml", data=shapes_root, run=tmp_path / "unused")
    registry = get_registry()
    build_dataset(load_recipe(recipe, None, registry)[0], registry, "train")  # the data generated once, here
    return recipe


def _print(report: KillReport) -> None:
    print(f"\n{report.kills} kills: {report.before_first_checkpoint} before the first checkpoint, "
          f"{report.after_first_checkpoint} after, {report.mid_save} during a save; "
          f"{report.ended_before_the_kill} attempts ended before their kill; "
          f"{report.seconds:.0f} s in all; identical weights: {'yes' if report.identical else 'no'}")
    for line in report.attempts:
        print(f"  {line}")


def test_sigkill_at_random_moments_then_the_same_weights(tmp_path: Path, shapes_root: Path) -> None:
    report = kill_at_random_moments(_kill_recipe(tmp_path, shapes_root), tmp_path, kills=3, seed=11)
    _print(report)
    assert report.kills == 3 and report.identical, report


@pytest.mark.slow
def test_sigkill_twenty_times_then_the_same_weights(tmp_path: Path, shapes_root: Path) -> None:
    report = kill_at_random_moments(_kill_recipe(tmp_path, shapes_root), tmp_path, kills=20, seed=26)
    _print(report)
    assert report.kills == 20 and report.identical, report

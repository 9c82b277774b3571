"""SIGINT / SIGTERM during `translate run`: the step finishes, a checkpoint is saved, the message
says how to resume, and the resumed run ends with the weights of an uninterrupted one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.support.slow_steps import slow_steps_env
from tests.support.tiny_recipes import PIX2PIX, write_recipe
from translate.engine.interrupt import RunInterrupted, StopSignals
from translate.engine.trainer import train
from translate.run.checkpoint import list_checkpoints
from translate.run.logs import read_metrics


@pytest.fixture
def one_thread() -> object:
    """Train in-process with one thread, as the child does (OMP_NUM_THREADS=1): CPU kernels may
    sum in another order with another thread count, and the weights are compared bit for bit."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, shapes_root: Path) -> Path:
    """The uninterrupted tiny run (one thread), shared by the signal tests."""
    root = tmp_path_factory.mktemp("full")
    recipe = write_recipe(PIX2PIX, root / "tiny.toml", data=shapes_root, run=root / "run")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(recipe).run_dir
    finally:
        torch.set_num_threads(before)
        from accelerate.state import AcceleratorState, GradientState

        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()


def _weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(list_checkpoints(run_dir)[-1] / "networks.safetensors"))


def _first_logged_step(run_dir: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    metrics = run_dir / "metrics.jsonl"
    while time.monotonic() < deadline:
        if metrics.exists() and metrics.read_text().strip():
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before its first logged step: {proc.communicate()[1][-2000:]}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("no step was logged in time")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_a_checkpoint_and_resumes_to_the_same_weights(
    sig: int, tiny_recipe: Path, tmp_path: Path, full_run: Path, one_thread: object
) -> None:
    part = tmp_path / "part"
    env = slow_steps_env(tmp_path / "hooks", 0.25)
    # SIGINT as a terminal's Ctrl-C sends it: to the whole process group, data-loader worker included
    workers = ["data.num_workers=1"] if sig == signal.SIGINT else []
    cmd = [sys.executable, "-m", "translate", "run", str(tiny_recipe), "--output-dir", str(part)]
    proc = subprocess.Popen(cmd + [a for w in workers for a in ("--set", w)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _first_logged_step(part, proc)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    stopped = list_checkpoints(part)[-1]
    step = json.loads((stopped / "manifest.json").read_text())["progress"]["step"]
    assert 2 <= step < 8
    line = err.strip().splitlines()[-1]
    name = signal.Signals(sig).name
    assert line.startswith(f"error: interrupted by {name} at step {step}"), err
    assert str(stopped) in line and line.endswith(f"--output-dir {part} --resume")
    assert all(f"--set {w}" in line for w in workers)
    assert not (part / "model.safetensors").exists()

    if sig == signal.SIGINT:  # the resume equivalence once (each check costs a few seconds)
        resumed = train(tiny_recipe, overrides=workers, output_dir=str(part), resume=True)
        assert resumed.step == 8
        a, b = _weights(full_run), _weights(resumed.run_dir)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        ma, mb = load_file(str(full_run / "model.safetensors")), load_file(str(part / "model.safetensors"))
        assert all(torch.equal(ma[k], mb[k]) for k in ma)
        steps = [r["step"] for r in read_metrics(part)]
        assert steps == sorted(set(steps)) and steps[-1] == 8
    assert proc.returncode == 128 + sig  # 130 for SIGINT, 143 for SIGTERM


def test_in_process_interrupt_raises_and_restores_the_handlers(tiny_recipe: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from translate_pix2pix.method import Pix2Pix

    original = Pix2Pix.train_step

    def interrupted(self, batch, ctx):  # type: ignore[no-untyped-def]
        if ctx.step == 4:
            signal.raise_signal(signal.SIGTERM)
        return original(self, batch, ctx)

    monkeypatch.setattr(Pix2Pix, "train_step", interrupted)
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    with pytest.raises(RunInterrupted, match="SIGTERM at step 5") as info:
        train(tiny_recipe)
    assert info.value.exit_status == 143 and info.value.step == 5
    assert info.value.checkpoint.name == "step-00000005" and info.value.checkpoint.is_dir()
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_second_signal_aborts_at_once() -> None:
    with StopSignals() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.signum == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_handlers_are_only_installed_in_the_main_thread() -> None:
    seen: list[object] = []
    before = signal.getsignal(signal.SIGINT)

    def worker() -> None:
        with StopSignals() as stop:  # no error off the main thread, and nothing installed
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(stop.requested)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before, False]

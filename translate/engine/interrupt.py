"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (schedulers, ``timeout``), and
checkpointing without stopping on SIGUSR1 or every ``output.checkpoint_minutes``.

The first SIGINT/SIGTERM only sets a flag: the trainer finishes the step it is in, writes a
checkpoint and raises :class:`RunInterrupted`, which says how to resume. A second one aborts at
once (``KeyboardInterrupt``). SIGUSR1 (any number of times) asks for a checkpoint after the
current step, and training goes on. Handlers are installed only in the main thread and the
previous ones are restored on exit, so ``train(...)`` called from Python or tests leaves no trace.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from ..errors import TranslateError

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_CHECKPOINT_SIGNAL: int | None = getattr(signal, "SIGUSR1", None)  # absent on Windows


class RunInterrupted(TranslateError):
    """The run stopped on a signal after saving a checkpoint; ``exit_status`` is 128 + signal number."""

    def __init__(self, signum: int, step: int, checkpoint: Path, resume_command: str) -> None:
        self.signum, self.step, self.checkpoint = signum, step, checkpoint
        self.exit_status = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(
            f"interrupted by {name} at step {step}; progress saved in checkpoint {checkpoint}; "
            f"resume with: {resume_command}"
        )


class StopSignals:
    """Context manager: records the first SIGINT/SIGTERM in :attr:`signum` (a second one aborts), and
    a SIGUSR1 in :attr:`checkpoint_requested` (cleared by the trainer when it takes the request)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.checkpoint_requested = False
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: stop now, without saving
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} again: aborted without saving")
        self.signum = signum
        print(f"{signal.Signals(signum).name} received: finishing this step and saving a checkpoint "
              "(send it again to abort at once)", file=sys.stderr, flush=True)

    def _handle_checkpoint(self, signum: int, frame: FrameType | None) -> None:
        self.checkpoint_requested = True
        print(f"{signal.Signals(signum).name} received: saving a checkpoint after this step; training goes on",
              file=sys.stderr, flush=True)

    def take_checkpoint_request(self) -> bool:
        """Whether a SIGUSR1 arrived since the last call (the request is consumed)."""
        requested, self.checkpoint_requested = self.checkpoint_requested, False
        return requested

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
            if _CHECKPOINT_SIGNAL is not None:
                self._previous[_CHECKPOINT_SIGNAL] = signal.signal(_CHECKPOINT_SIGNAL, self._handle_checkpoint)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


def ignore_stop_signals(worker_id: int = 0) -> None:
    """``worker_init_fn`` for data-loader workers: a Ctrl-C reaches the whole process group, and a
    worker killed by it would break the step the main process is finishing; the main process
    handles the signal and shuts its workers down. SIGUSR1 (whose default action ends a process)
    is ignored too: a scheduler may send it to every process of the job."""
    for sig in _SIGNALS + ((_CHECKPOINT_SIGNAL,) if _CHECKPOINT_SIGNAL is not None else ()):
        signal.signal(sig, signal.SIG_IGN)


class CheckpointTimer:
    """``output.checkpoint_minutes``: whether that many minutes of wall time passed since the run
    started or since the last checkpoint (:meth:`restart`); never due when ``minutes`` is None."""

    def __init__(self, minutes: float | None) -> None:
        self.minutes = minutes
        self.restart()

    def restart(self) -> None:
        """Count from now (called after every checkpoint, whatever wrote it)."""
        self._since = monotonic_minutes()

    def due(self) -> bool:
        return self.minutes is not None and monotonic_minutes() - self._since >= self.minutes


def monotonic_minutes() -> float:
    """The clock of :class:`CheckpointTimer`: monotonic, in minutes (one name, so that tests can drive it)."""
    return time.monotonic() / 60.0


def resume_command(recipe_path: Path, run_dir: Path, overrides: list[str] | None) -> str:
    """The command line that continues this run (same recipe, same ``--set`` values, same folder)."""
    import shlex

    parts = ["translate", "run", str(recipe_path)]
    for item in overrides or []:
        parts += ["--set", item]
    parts += ["--output-dir", str(run_dir), "--resume"]
    return " ".join(shlex.quote(p) for p in parts)

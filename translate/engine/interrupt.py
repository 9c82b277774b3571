"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (schedulers, ``timeout``).

The first signal only sets a flag: the trainer finishes the step it is in, writes a checkpoint
and raises :class:`RunInterrupted`, which says how to resume. A second signal aborts at once
(``KeyboardInterrupt``). Handlers are installed only in the main thread and the previous ones
are restored on exit, so ``train(...)`` called from Python or tests leaves no trace.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from ..errors import TranslateError

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


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
    """Context manager: records the first SIGINT/SIGTERM in :attr:`signum`; a second one aborts."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # the second signal: stop now, without saving
            raise KeyboardInterrupt(f"{signal.Signals(signum).name} again: aborted without saving")
        self.signum = signum
        import sys

        print(f"{signal.Signals(signum).name} received: finishing this step and saving a checkpoint "
              "(send it again to abort at once)", file=sys.stderr, flush=True)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


def ignore_stop_signals(worker_id: int = 0) -> None:
    """``worker_init_fn`` for data-loader workers: a Ctrl-C reaches the whole process group, and a
    worker killed by it would break the step the main process is finishing; the main process
    handles the signal and shuts its workers down."""
    for sig in _SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def resume_command(recipe_path: Path, run_dir: Path, overrides: list[str] | None) -> str:
    """The command line that continues this run (same recipe, same ``--set`` values, same folder)."""
    import shlex

    parts = ["translate", "run", str(recipe_path)]
    for item in overrides or []:
        parts += ["--set", item]
    parts += ["--output-dir", str(run_dir), "--resume"]
    return " ".join(shlex.quote(p) for p in parts)

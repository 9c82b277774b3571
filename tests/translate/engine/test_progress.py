"""Progress off a terminal: plain lines every N seconds (and the last step), not a bar per update."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest

from translate.engine.progress import PlainProgress, TerminalBar, make_progress
from translate.engine.trainer import train


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_writes_a_line_per_interval_and_the_last_step() -> None:
    out, clock = io.StringIO(), _Clock()
    bar = PlainProgress(100, 0, out, interval=30.0, clock=clock)
    for step in range(1, 101):
        clock.now += 1.0  # one step a second: lines at 30 s, 60 s, 90 s and the end
        bar.update(step, {"G": "1.2", "img/s": "4.0"})
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines == [
        "step 30/100 (30%) G=1.2 img/s=4.0 elapsed 30s",
        "step 60/100 (60%) G=1.2 img/s=4.0 elapsed 1m00s",
        "step 90/100 (90%) G=1.2 img/s=4.0 elapsed 1m30s",
        "step 100/100 (100%) G=1.2 img/s=4.0 elapsed 1m40s",
    ]


def test_plain_progress_says_where_a_stopped_run_ended() -> None:
    out, clock = io.StringIO(), _Clock()
    bar = PlainProgress(400, 40, out, interval=30.0, clock=clock)  # resumed at step 40
    for step in (41, 42, 43):
        clock.now += 2.0
        bar.update(step, {})
    bar.close()
    assert out.getvalue() == "step 43/400 (11%) elapsed 6s\n"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_the_bar_and_a_file_the_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    bar = make_progress(True, 10, 0, _Tty())
    assert isinstance(bar, TerminalBar)
    bar.close()
    assert isinstance(make_progress(True, 10, 0, io.StringIO()), PlainProgress)
    assert make_progress(False, 10, 0, io.StringIO()) is None
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert make_progress(True, 10, 0, _Tty()) is None


def test_a_run_with_stderr_off_a_terminal_keeps_the_log_small(tiny_recipe: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    log = io.StringIO()  # not a TTY, like a CI log or nohup.out
    monkeypatch.setattr(sys, "stderr", log)
    train(tiny_recipe, overrides=["output.progress=true"])
    lines = log.getvalue().splitlines()
    progress = [line for line in lines if line.startswith("step ")]
    assert len(progress) == 1 and re.fullmatch(r"step 8/8 \(100%\) .*D=\S+ .*img/s=\S+ elapsed \d+s", progress[0])
    assert "\r" not in log.getvalue() and len(log.getvalue()) < 2000

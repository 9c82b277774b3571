"""Progress output: a tqdm bar on a terminal, a plain line every N seconds anywhere else.

Off a terminal (CI logs, ``nohup``, a file) a bar would write every update into the log; there
:class:`PlainProgress` writes ``step 40/400 (10%) D=0.51 G=1.2 img/s=55.0 elapsed 1m30s`` at most
every ``interval`` seconds, and always the last step. ``TQDM_DISABLE=1`` turns both off.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Callable, Protocol, TextIO

PLAIN_INTERVAL_S = 30.0


class ProgressReporter(Protocol):
    def update(self, step: int, postfix: dict[str, str]) -> None: ...
    def close(self) -> None: ...


class TerminalBar:
    """A tqdm bar (for a terminal)."""

    def __init__(self, total: int, initial: int, stream: TextIO) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5,
                         file=stream)

    def update(self, step: int, postfix: dict[str, str]) -> None:
        self._bar.update(step - self._bar.n)
        self._bar.set_postfix(postfix, refresh=False)

    def close(self) -> None:
        self._bar.close()


class PlainProgress:
    """One plain line at most every ``interval`` seconds, and one for the last step."""

    def __init__(self, total: int, initial: int, stream: TextIO, *, interval: float = PLAIN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.stream, self.interval, self.clock = total, stream, interval, clock
        self._start = self._last = clock()
        self._step = self._written = initial
        self._postfix: dict[str, str] = {}

    def update(self, step: int, postfix: dict[str, str]) -> None:
        self._step, self._postfix = step, postfix
        now = self.clock()
        if now - self._last >= self.interval or step >= self.total:
            self._write(now)

    def _write(self, now: float) -> None:
        pct = f" ({100 * self._step / self.total:.0f}%)" if self.total else ""
        values = "".join(f" {k}={v}" for k, v in self._postfix.items())
        print(f"step {self._step}/{self.total}{pct}{values} elapsed {_duration(now - self._start)}",
              file=self.stream, flush=True)
        self._last, self._written = now, self._step

    def close(self) -> None:
        if self._step != self._written:  # stopped early: say where
            self._write(self.clock())


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def make_progress(enabled: bool, total: int, initial: int, stream: Any = None) -> ProgressReporter | None:
    """A bar when ``stream`` (default stderr) is a terminal, plain lines otherwise; None when disabled."""
    if not enabled or os.environ.get("TQDM_DISABLE", "") not in ("", "0"):
        return None
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        return TerminalBar(total, initial, stream)
    return PlainProgress(total, initial, stream)

"""Run logs: a JSON-lines metrics file, and TensorBoard when it is installed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..utils.atomic import write_text_atomic
from .layout import RunFolder

PREVIOUS_SUFFIX = ".previous"


class MetricsLog:
    """Appends one JSON object per logged step to ``RUN/metrics.jsonl`` (and TensorBoard).

    Resuming from step S drops the lines after S. A new run (``resume_step`` None) in a folder
    whose earlier run left metrics but no checkpoint starts the log afresh: the old log is kept
    as ``metrics.jsonl.previous`` (:attr:`replaced`), so no step appears twice.
    """

    def __init__(self, run_dir: Path, *, tensorboard: bool, resume_step: int | None = None) -> None:
        self.path = RunFolder(run_dir).metrics
        self.replaced: Path | None = None
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        elif resume_step is None and self.path.exists():
            self.replaced = self.path.with_name(self.path.name + PREVIOUS_SUFFIX)
            self.path.replace(self.replaced)
        self._fh = open(self.path, "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard not installed: the JSON log is enough
                SummaryWriter = None  # noqa: N806
            if SummaryWriter is not None:
                purge = resume_step if resume_step is not None else (0 if self.replaced else None)
                self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"), purge_step=purge)

    def _truncate_after(self, step: int) -> None:
        """Drop lines a killed run wrote after the checkpoint we resume from."""
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:
                continue  # a line cut by the kill
        write_text_atomic(self.path, "".join(k + "\n" for k in kept))

    def log(self, step: int, values: dict[str, Any]) -> None:
        record = {"step": step, "time": round(time.time(), 3), **values}
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)) and key != "epoch":
                    self._tb.add_scalar(key, value, step)

    def close(self) -> None:
        self._fh.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All records of a run's metrics log."""
    path = RunFolder(run_dir).metrics
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

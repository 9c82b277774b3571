"""Reading a run folder for the report: each piece is optional, and a missing or unreadable one
becomes a note instead of an error (an interrupted run, a run with no samples or no evaluation yet).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TranslateError
from .layout import NOT_LOSSES, RunFolder, loss_keys

SAMPLE_NAME = re.compile(r"^step-(\d+)\.png$")
"""Sample grids the trainer writes: ``RUN/samples/step-00000004.png``."""



class NotARunFolder(TranslateError):
    """The folder has neither ``recipe.toml`` nor ``metrics.jsonl``: not what ``translate run`` writes."""


def number(value: Any) -> float | None:
    """A metrics value as a float: numbers, and the strings ``"inf"``, ``"-inf"``, ``"nan"``; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "nan", "infinity", "-infinity"):
        return float(value)
    return None


def fmt(value: Any) -> str:
    """A value for a table cell: floats with 4 significant digits (``inf``/``nan`` kept), others as text."""
    x = number(value)
    if x is None:
        return str(value)
    if isinstance(value, int) or not math.isfinite(x):
        return str(value) if isinstance(value, int) else str(x)
    return f"{x:.4g}"


@dataclass
class RunContents:
    """What the report found in a run folder; ``notes`` says what is missing or unreadable."""

    path: Path
    recipe: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: int = 0
    samples: list[tuple[int, Path]] = field(default_factory=list)
    evaluation: dict[str, Any] | None = None
    best: dict[str, Any] | None = None
    environment: dict[str, Any] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def series(self, key: str) -> tuple[list[int], list[float]]:
        """Steps and values of ``key`` over the records that have it (``"inf"``/``"nan"`` as floats)."""
        steps, values = [], []
        for rec in self.records:
            x = number(rec.get(key))
            if x is not None and number(rec.get("step")) is not None:
                steps.append(int(rec["step"]))
                values.append(x)
        return steps, values

    def keys(self) -> list[str]:
        """Every key of the metrics log that ever held a number, in first-seen order."""
        seen: dict[str, None] = {}
        for rec in self.records:
            for key, value in rec.items():
                if number(value) is not None:
                    seen.setdefault(key, None)
        return list(seen)

    def loss_keys(self) -> list[str]:
        return loss_keys(self.keys())

    def eval_keys(self) -> list[str]:
        return [k for k in self.keys() if k.startswith("eval/")]

    def lr_keys(self) -> list[str]:
        return [k for k in self.keys() if k.startswith("lr_")]


def _json(path: Path, what: str, notes: dict[str, str], key: str) -> dict[str, Any] | None:
    if not path.is_file():
        notes[key] = f"{path.name} not found: {what}"
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        notes[key] = f"{path.name} could not be read ({exc})"
        return None
    if not isinstance(data, dict):
        notes[key] = f"{path.name} does not hold a JSON object"
        return None
    return data


def read_run_folder(run_dir: str | Path) -> RunContents:
    """Gather the recipe, metrics log, sample grids, evaluation, best checkpoint and environment.

    Raises:
        NotARunFolder: ``run_dir`` is not a folder, or has neither ``recipe.toml`` nor ``metrics.jsonl``.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise NotARunFolder(f"{path} is not a folder; give the run folder that 'translate run' wrote "
                            "(the recipe's [output] dir)")
    layout = RunFolder(path)
    recipe_file, metrics_file = layout.recipe, layout.metrics
    if not recipe_file.is_file() and not metrics_file.is_file():
        raise NotARunFolder(f"{path} is not a run folder: it has neither recipe.toml nor metrics.jsonl "
                            "(give the folder that 'translate run' wrote, the recipe's [output] dir)")
    run = RunContents(path)
    notes = run.notes
    if recipe_file.is_file():
        try:
            run.recipe = recipe_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            notes["recipe"] = f"recipe.toml could not be read ({exc})"
    else:
        notes["recipe"] = "recipe.toml not found: the run stopped before it started training"
    if metrics_file.is_file():
        try:
            lines = metrics_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            lines = []
            notes["metrics"] = f"metrics.jsonl could not be read ({exc})"
        for line in lines:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                run.bad_lines += 1  # a line cut by a kill
                continue
            if isinstance(rec, dict):
                run.records.append(rec)
            else:
                run.bad_lines += 1
        if not run.records and "metrics" not in notes:
            notes["metrics"] = "metrics.jsonl holds no records yet: no step was logged"
    else:
        notes["metrics"] = "metrics.jsonl not found: no step was logged"
    folder = layout.samples
    if folder.is_dir():
        for file in folder.iterdir():
            m = SAMPLE_NAME.match(file.name)
            if m and file.is_file():
                run.samples.append((int(m.group(1)), file))
        run.samples.sort()
    if not run.samples:
        notes["samples"] = "no sample grids (samples/step-*.png) yet"
    run.evaluation = _json(layout.evaluation, "the run has not been evaluated "
                           "(add an [eval] table to the recipe, or run 'translate eval')", notes, "evaluation")
    best = layout.best_record
    if best.is_file():
        run.best = _json(best, "", notes, "best")
    run.environment = _json(layout.environment, "the environment was not recorded", notes, "environment")
    return run


__all__ = ["NOT_LOSSES", "NotARunFolder", "RunContents", "SAMPLE_NAME", "fmt", "number", "read_run_folder"]

"""The run folder's layout: every file ``translate run`` writes in a run folder, named in one place.

A run folder holds the resolved recipe (``recipe.toml``, and ``recipe.json`` to compare on
resume), the environment record, the metrics log, the checkpoints, the sample grids, the model
file (and the best step's), the evaluation record and the report. :class:`RunFolder` names each
of them and reads what several parts of translate read (the metrics log, the losses of a metrics
record), so the trainer that writes a run and the report, export and eval that read it agree by
construction instead of by repeating file names. The best step's record (``best.json``) is read
and written here too: the trainer writes it, and resume, ``translate eval --best`` and ``translate
export`` read it through :meth:`RunFolder.best`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from ..utils.atomic import write_text_atomic

MAX_RUN_JSON = 16 * 1024 * 1024
"""A run's own JSON files (records, manifests) above this size are not read."""

NOT_LOSSES = frozenset({"step", "time", "epoch", "images_per_s", "data_wait"})
"""Numeric keys of ``metrics.jsonl`` that are bookkeeping, not losses (``lr_*`` and ``eval/*`` neither)."""


def read_run_json(path: Path) -> Any:
    """A run's own JSON file, or None when it is missing, larger than :data:`MAX_RUN_JSON` or unreadable."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_RUN_JSON:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None


class RunFolder:
    """One run folder, by path; its files are attributes, never spelled out elsewhere."""

    RECIPE = "recipe.toml"
    RECIPE_JSON = "recipe.json"
    ENVIRONMENT = "environment.json"
    METRICS = "metrics.jsonl"
    CHECKPOINTS = "checkpoints"
    SAMPLES = "samples"
    MODEL = "model.safetensors"
    """The model file, named as in a model folder (:data:`translate.models.schema.MODEL_FILENAME`)."""
    BEST_MODEL = "model-best.safetensors"
    BEST_RECORD = "best.json"
    EVALUATION = "evaluation.json"
    BEST_EVALUATION = "evaluation-best.json"
    REPORT = "report.html"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- the files

    @property
    def recipe(self) -> Path:
        return self.path / self.RECIPE

    @property
    def recipe_json(self) -> Path:
        return self.path / self.RECIPE_JSON

    @property
    def environment(self) -> Path:
        return self.path / self.ENVIRONMENT

    @property
    def metrics(self) -> Path:
        return self.path / self.METRICS

    @property
    def checkpoints(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def samples(self) -> Path:
        return self.path / self.SAMPLES

    def sample(self, step: int) -> Path:
        """The sample grid written at ``step``."""
        return self.samples / f"step-{step:08d}.png"

    @property
    def model(self) -> Path:
        return self.path / self.MODEL

    @property
    def best_model(self) -> Path:
        return self.path / self.BEST_MODEL

    @property
    def best_record(self) -> Path:
        return self.path / self.BEST_RECORD

    @property
    def evaluation(self) -> Path:
        return self.path / self.EVALUATION

    @property
    def report(self) -> Path:
        return self.path / self.REPORT

    def unfinished(self) -> bool:
        """A run that has checkpoints but no model file yet (training writes it when it ends)."""
        return self.checkpoints.is_dir() and not self.model.is_file()

    # -- writing

    def write_best(self, record: dict[str, Any]) -> None:
        """``best.json``: the best step's record (``key``, ``value``, ``step``, ``checkpoint``, ...), atomically."""
        write_text_atomic(self.best_record, json.dumps(record, indent=2) + "\n")

    def write_recipe(self, toml_text: str, resolved: dict[str, Any]) -> None:
        """The resolved recipe, as TOML (to read) and JSON (to compare on resume), each written atomically."""
        write_text_atomic(self.recipe, toml_text)
        write_text_atomic(self.recipe_json, json.dumps(resolved, indent=2))

    # -- reading

    def best(self) -> dict[str, Any] | None:
        """``best.json`` as written (its ``value`` may be ``"inf"``/``"nan"``), or None when it is missing,
        unreadable or names no step (a non-negative int)."""
        record = read_run_json(self.best_record)
        if not isinstance(record, dict):
            return None
        step = record.get("step")
        return record if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None

    def saved_recipe(self) -> dict[str, Any] | None:
        """The resolved recipe the run was started with (``recipe.json``), or None."""
        return json.loads(self.recipe_json.read_text()) if self.recipe_json.exists() else None

    def last_metrics(self, tail: int = 65536, *, with_losses: bool = False) -> dict[str, Any] | None:
        """The last complete record of the metrics log (reading only its end), or None; with ``with_losses``,
        the last one that holds losses (an ``[eval]`` table logs its values in records of their own)."""
        try:
            with open(self.metrics, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - tail))
                lines = fh.read().decode("utf-8", errors="replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                continue
            if isinstance(record, dict) and (not with_losses or loss_keys(record)):
                return record
        return None

    def metrics_at(self, step: int) -> dict[str, Any]:
        """The keys logged at ``step`` (every record of that step merged); empty when there are none."""
        merged: dict[str, Any] = {}
        try:
            with open(self.metrics, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(record, dict) and record.get("step") == step:
                        merged.update(record)
        except OSError:
            pass
        return merged


def loss_keys(keys: Iterable[str]) -> list[str]:
    """Of ``keys`` (a metrics record, or the keys of a log), the losses: not bookkeeping, learning rates
    or evaluation values."""
    return [k for k in keys if k not in NOT_LOSSES and not k.startswith(("lr_", "eval/"))]


__all__ = ["NOT_LOSSES", "RunFolder", "loss_keys"]

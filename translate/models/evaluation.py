"""Which evaluation belongs to a model file: the link between ``evaluation.json`` and exported models.

``translate eval`` writes ``evaluation.json`` next to the model it evaluated (``evaluation-best.json``
for a run's best model), and training writes ``RUN/evaluation.json`` after its last evaluation. Each
records the sha256 of the model file it measured. :func:`model_evaluation` returns the evaluation
of one model file only when those hashes agree, so ``translate export`` never attaches numbers
measured on other weights; for a run's best model it falls back to the values logged at the best
step (``eval/<key>`` in ``metrics.jsonl``, named by ``best.json``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import TranslateError
from ..evaluation.record import (
    BEST_MODEL_FILENAME,
    BEST_RECORD_FILENAME,
    EVALUATION_FILENAME,  # what translate eval writes next to the model
)
from ..run.layout import RunFolder, read_run_json
from .schema import EvaluationMeta, OtherCheckpointMeta
from .weights import file_sha256

BEST_EVALUATION_FILENAME = RunFolder.BEST_EVALUATION
"""What ``translate eval RUN --best`` writes, beside the last model's ``evaluation.json``."""

_MAX_VALUES = 64  # EvaluationMeta's limit
_METRIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


def best_model_path(run: Path) -> Path:
    """``RUN/model-best.safetensors``, or a :class:`TranslateError` saying how a run gets one."""
    best = RunFolder(run).best_model
    if run.is_dir() and best.is_file():
        return best
    if not run.is_dir():
        raise TranslateError(f"{run}: --best needs a run folder (one holding {BEST_MODEL_FILENAME} and "
                             f"{BEST_RECORD_FILENAME})")
    raise TranslateError(
        f"{run}: no {BEST_MODEL_FILENAME} (and {BEST_RECORD_FILENAME}): the run did not keep a best checkpoint; set "
        "[eval].best in the recipe (e.g. best = \"psnr\") with [eval].metrics to keep one, or leave out --best to use "
        "the last model"
    )


def model_evaluation(model_path: Path, *, best: bool = False,
                     notes: list[str] | None = None) -> EvaluationMeta | None:
    """The evaluation of the model file ``model_path``, read from the evaluation file next to it.

    An ``evaluation.json`` (``evaluation-best.json`` first for the best model) counts only when its
    ``model.sha256`` is the file's; one of another model, or unreadable, is skipped with a line in
    ``notes``. The best model without such a file gets the values logged at its step
    (``eval/<key>`` in ``metrics.jsonl``, else best.json's value) with the run's evaluation protocol.
    """
    found = _own_evaluation(model_path, best=best, notes=notes)
    if found is None:
        return None
    other = other_checkpoint(model_path.parent, best=best, step=found.step, split=found.split)
    return found.model_copy(update={"other_checkpoint": other}) if other is not None else found


def other_checkpoint(run: Path, *, best: bool, step: int | None, split: str | None) -> OtherCheckpointMeta | None:
    """The run's other candidate beside the model exported from it: the best checkpoint's values (logged at its
    step) beside the final model, the final model's (``evaluation.json``) beside the best; None when the run kept
    no best checkpoint, or the best is the final step."""
    record = RunFolder(run).best()
    if record is None:
        return None
    key = record.get("key") if isinstance(record.get("key"), str) and _METRIC.match(record["key"]) else None
    if best:
        last = read_run_json(run / EVALUATION_FILENAME)
        if not isinstance(last, dict) or not isinstance(last.get("values"), dict):
            return None
        last_step = _count((last.get("model") or {}).get("step")) if isinstance(last.get("model"), dict) else None
        if last_step is not None and last_step == record["step"]:
            return None
        values = {k: _stored(v) for k, v in list(last["values"].items())[:_MAX_VALUES] if _METRIC.match(str(k))}
        label, other_step = "final", last_step
    else:
        if step is not None and step == record["step"]:
            return None
        values = {k[5:]: _stored(v) for k, v in RunFolder(run).metrics_at(record["step"]).items()
                  if k.startswith("eval/") and _METRIC.match(k[5:])}
        label, other_step = "best", record["step"]
    if not values:
        return None
    try:
        return OtherCheckpointMeta(label=label, step=other_step, values=dict(list(values.items())[:_MAX_VALUES]),
                                   chosen_by=key, split=split)
    except ValidationError:
        return None


def _own_evaluation(model_path: Path, *, best: bool, notes: list[str] | None) -> EvaluationMeta | None:
    """The evaluation recorded for this very file (its sha256), or the best step's logged values."""
    sha = file_sha256(model_path)
    for name in ((BEST_EVALUATION_FILENAME, EVALUATION_FILENAME) if best else (EVALUATION_FILENAME,)):
        path = model_path.parent / name
        if not path.is_file():
            continue
        record = read_run_json(path)
        model = record.get("model") if isinstance(record, dict) else None
        recorded = model.get("sha256") if isinstance(model, dict) else None
        if recorded != sha:
            why = (f"it was computed on another model file (sha256 {str(recorded)[:12]}..., this one is {sha[:12]}...)"
                   if isinstance(recorded, str) else "it names no model sha256 (not an evaluation.json of translate)")
            _note(notes, f"{path} left out of the export: {why}")
            continue
        try:
            return evaluation_meta(record)
        except (ValidationError, TypeError, AttributeError) as err:
            _note(notes, f"{path} left out of the export: it does not fit the model file's evaluation schema ({err})")
    return _best_step_evaluation(model_path.parent, sha, notes) if best else None


def evaluation_meta(record: dict[str, Any], *, values: dict[str, Any] | None = None,
                    step: int | None = None) -> EvaluationMeta:
    """An ``evaluation.json`` record as the model file's :class:`EvaluationMeta`.

    ``values`` and ``step``, when given, replace the record's own (the best step's values).
    """
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    protocol = record.get("protocol") if isinstance(record.get("protocol"), dict) else {}
    replaced = values is not None  # the best step's values: the record's published comparisons are not about them
    values = dict(record.get("values") or {}) if values is None else values
    flat = {k: _stored(v) for k, v in list(values.items())[:_MAX_VALUES]}
    better = {k: v for k, v in (record.get("higher_is_better") or {}).items() if k in flat}
    counts = {g.get("num_images") for g in (protocol.get("generators") or {}).values() if isinstance(g, dict)}
    num_images = data.get("num_images", min(counts - {None}, default=None))
    published = record.get("published") if isinstance(record.get("published"), list) else []
    return EvaluationMeta.model_validate({
        "values": flat, "higher_is_better": better, "split": data.get("split", protocol.get("split")),
        "num_images": num_images if _count(num_images) is not None else None, "data": data.get("name"),
        "data_fingerprint": data.get("fingerprint"), "model_sha256": model.get("sha256"),
        "step": step if step is not None else _count(model.get("step")), "protocol": protocol,
        "published": [] if replaced else [p for p in published[:16] if isinstance(p, dict)],
    })


def _stored(value: Any) -> float | str:
    """A metric value as the schema stores it: a finite float, or "inf" / "-inf" / "nan"."""
    if value is None or isinstance(value, str):
        return value if value in ("inf", "-inf", "nan") else "nan"
    value = float(value)
    return value if math.isfinite(value) else ("nan" if value != value else ("inf" if value > 0 else "-inf"))


def _best_step_evaluation(run: Path, sha: str, notes: list[str] | None) -> EvaluationMeta | None:
    best = RunFolder(run).best()
    step = best["step"] if best is not None else None
    if best is None or step is None:
        _note(notes, f"{run / BEST_RECORD_FILENAME} is missing or names no step: the best model is exported "
              "without evaluation")
        return None
    values = {k[5:]: v for k, v in RunFolder(run).metrics_at(step).items()
              if k.startswith("eval/") and _finite(v) and _METRIC.match(k[5:])}
    if not values and isinstance(best.get("key"), str) and _finite(best.get("value")):
        values = {best["key"]: best["value"]}
    if not values:
        return None
    last = read_run_json(run / EVALUATION_FILENAME)  # the protocol of the run's [eval] table, the same at every step
    record = dict(last) if isinstance(last, dict) else {}
    record["model"] = {"sha256": sha}
    if isinstance(best.get("key"), str) and isinstance(best.get("higher_is_better"), bool):
        record["higher_is_better"] = {**(record.get("higher_is_better") or {}), best["key"]: best["higher_is_better"]}
    try:
        return evaluation_meta(record, values=values, step=step)
    except (ValidationError, TypeError, AttributeError) as err:
        _note(notes, f"the evaluation of step {step} does not fit the model file's evaluation schema ({err})")
        return None


def _note(notes: list[str] | None, line: str) -> None:
    if notes is not None:
        notes.append(line)


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = ["BEST_EVALUATION_FILENAME", "BEST_MODEL_FILENAME", "BEST_RECORD_FILENAME", "EVALUATION_FILENAME",
           "best_model_path", "evaluation_meta", "model_evaluation", "other_checkpoint"]

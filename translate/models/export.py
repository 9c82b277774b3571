"""Shareable model folders: ``translate export RUN [--out DIR]`` and ``Pipeline.save_pretrained``.

A model folder holds three files, written into a temporary sibling folder and renamed into
place in one step (a reader never sees half a folder):

- ``model.safetensors``: the generators' weights (``<export>.<param>``) and the metadata JSON
  described by :class:`translate.models.ModelMeta`;
- ``config.json``: ``{"format_version": "1", ...}`` with the same metadata, pretty-printed
  (component names and options, plugin distribution and version, channels, value range and
  normalisation, direction, test-time mode, preprocessing, recipe and training summaries, evaluation);
- ``README.md``: a model card generated from that metadata (:func:`translate.models.card.model_card`).

Exporting a run reads ``RUN/model.safetensors`` (fully validated by rebuilding every generator;
it carries the preprocessing and recipe summary written at the end of training), the latest
checkpoint's ``manifest.json`` and the last record of ``RUN/metrics.jsonl`` (steps trained, last
losses), which become the metadata's training summary. ``--best`` exports ``RUN/model-best.safetensors``
(the best checkpoint by the recipe's ``[eval].best``) instead. The evaluation measured on the exported
file (``evaluation.json`` with its sha256, see :mod:`translate.models.evaluation`) becomes the
metadata's ``evaluation``, shown in the model card with its protocol.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import TranslateError
from ..run.layout import RunFolder, loss_keys, read_run_json
from ..utils.atomic import umask, write_text_atomic
from . import (
    CONFIG_FILENAME,
    MODEL_FILENAME,
    README_FILENAME,
    LoadedModel,
    ModelMeta,
    TrainingSummary,
    config_json,
    load_model,
    read_config,
    read_tensors,
    write_model_file,
)
from .card import card_source, model_card
from .evaluation import BEST_MODEL_FILENAME, best_model_path, model_evaluation

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..plugin.registry import Registry

_METRIC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
_MAX_LOSSES = 64  # TrainingSummary's limit


# --------------------------------------------------------------------------- writing a folder


def save_folder(
    out_dir: str | os.PathLike[str],
    meta: ModelMeta,
    tensors: dict[str, "torch.Tensor"],
) -> Path:
    """Write ``model.safetensors``, ``config.json`` and ``README.md`` into ``out_dir`` atomically.

    Raises:
        TranslateError: ``out_dir`` exists and is not an empty folder (nothing is written).
    """
    out = Path(out_dir)
    _check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        write_model_file(tmp / MODEL_FILENAME, tensors, meta)
        write_text_atomic(tmp / CONFIG_FILENAME, config_json(meta))
        write_text_atomic(tmp / README_FILENAME, model_card(meta, source=card_source(out)))
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; a shared folder gets the usual mode
        _check_target(out)
        try:
            os.replace(tmp, out)  # POSIX: atomically replaces an empty folder
        except OSError:
            if not out.is_dir() or any(out.iterdir()):
                raise
            out.rmdir()
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def save_loaded(loaded: LoadedModel, out_dir: str | os.PathLike[str]) -> Path:
    """Write a loaded model (its current weights and metadata) as a model folder."""
    return save_folder(out_dir, loaded.meta, loaded.tensors())


def _check_target(out: Path) -> None:
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise TranslateError(f"cannot export to {out}: it exists and is not a folder (nothing was written)")
        if any(out.iterdir()):
            raise TranslateError(
                f"cannot export to {out}: the folder exists and is not empty; remove it or choose another "
                "--out (nothing was written)"
            )


# --------------------------------------------------------------------------- exporting a run


def default_out(source: str | os.PathLike[str]) -> Path:
    """``RUN/export`` for a folder, ``<file's folder>/export`` for a model file."""
    p = Path(source)
    return (p if p.is_dir() else p.parent) / "export"


def export_run(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    registry: "Registry | None" = None,
    best: bool = False,
    notes: list[str] | None = None,
) -> Path:
    """Export a training run (or any loadable model) as a shareable model folder.

    The evaluation written next to the model (``evaluation.json``, by ``translate eval`` or at the
    end of training) goes into the metadata and the model card when it was computed on this very
    model file (same sha256); otherwise it is left out and a line saying why is added to ``notes``.

    Args:
        run_dir: a run folder holding ``model.safetensors`` (a model folder or file works too).
        out_dir: the folder to create; default ``RUN/export``. It must not exist or be empty.
        registry: the component registry used to validate the model (default: installed plugins).
        best: export the run's best checkpoint (``RUN/model-best.safetensors``, kept by the recipe's
            ``[eval].best``) with the evaluation of its step.
        notes: receives one line per evaluation file that was not used, and why.

    Returns:
        The folder written.

    Raises:
        ModelFileError: the run's model file is missing, malformed or cannot be rebuilt.
        TranslateError: ``out_dir`` exists and is not empty.
    """
    source = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else default_out(source)
    _check_target(out)
    if best:
        source = best_model_path(source)
    elif source.is_dir() and RunFolder(source).unfinished():
        raise TranslateError(
            f"{source}: run has checkpoints but no {MODEL_FILENAME}; training writes it when it ends: "
            "finish the run (translate run RECIPE --resume) and export again"
        )
    loaded = load_model(source, registry=registry)  # validates metadata, plugins, names, shapes, dtypes
    tensors = read_tensors(loaded.path)  # the very tensors of the run's file
    meta = loaded.meta
    run = source if source.is_dir() else (source.parent if best else None)
    training = training_summary(run) if run is not None else None
    update: dict[str, Any] = {"training": training} if training is not None else {}
    evaluation = model_evaluation(loaded.path, best=best, notes=notes)
    if evaluation is not None:
        update["evaluation"] = evaluation
        if best and training is not None and evaluation.step is not None:  # the best step's weights, not the last
            update["training"] = TrainingSummary(steps=evaluation.step)
    if update:
        meta = ModelMeta.model_validate_json(meta.model_copy(update=update).model_dump_json())
    return save_folder(out, meta, tensors)


def training_summary(run_dir: Path) -> TrainingSummary | None:
    """Steps, epoch and last losses of a run (latest checkpoint manifest, metrics log); None when it has none."""
    from ..run.checkpoint import latest_checkpoint

    steps = epoch = None
    losses: dict[str, float] = {}
    run = RunFolder(run_dir)
    record = run.last_metrics()
    if record is not None:
        steps, epoch = _count(record.get("step")), _count(record.get("epoch"))
    with_losses = run.last_metrics(with_losses=True)  # not an evaluation record: its values are no losses
    if with_losses is not None:
        losses = {k: float(with_losses[k]) for k in loss_keys(with_losses)
                  if _finite(with_losses[k]) and _METRIC.match(k)}
    ckpt = latest_checkpoint(run_dir) if RunFolder(run_dir).checkpoints.is_dir() else None
    manifest = read_run_json(ckpt / "manifest.json") if ckpt is not None else None
    progress = manifest.get("progress") if isinstance(manifest, dict) else None
    if isinstance(progress, dict) and _count(progress.get("step")) is not None:
        if steps is None or progress["step"] >= steps:
            steps, epoch = progress["step"], _count(progress.get("epoch"))
    if steps is None and not losses:
        return None
    return TrainingSummary(steps=steps, epoch=epoch, losses=dict(list(losses.items())[:_MAX_LOSSES]))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def export_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate export RUN [--out DIR] [--best] [--onnx]``: write the folder and print what it holds.

    With ``--onnx`` the ONNX extras are checked first, so that a missing one writes nothing.
    """
    if getattr(args, "onnx", False):
        from .onnx import require_onnx

        require_onnx()
    notes: list[str] = []
    best = bool(getattr(args, "best", False))
    out = export_run(args.run, args.out, registry=registry, best=best, notes=notes)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    meta = read_config(out / CONFIG_FILENAME)
    names = ", ".join(f"{n} ({g.input_domain}->{g.output_domain})" for n, g in meta.generators.items())
    what = f"{args.run} ({BEST_MODEL_FILENAME})" if best else f"{args.run}"
    print(f"exported {what} -> {out}: {MODEL_FILENAME}, {CONFIG_FILENAME}, {README_FILENAME} "
          f"({meta.method}; generators {names})")
    if meta.evaluation is not None:
        shown = ", ".join(f"{k} {v if isinstance(v, str) else format(v, '.4g')}"
                          for k, v in list(meta.evaluation.values.items())[:8])
        print(f"evaluation in the model card: {shown}")
    if getattr(args, "onnx", False):
        from .onnx import export_onnx

        export_onnx(out)
    print(f"run it: translate infer {out} INPUT --out OUT")
    return 0


__all__ = ["default_out", "export_cli", "export_run", "model_card", "model_evaluation", "save_folder", "save_loaded",
           "training_summary"]

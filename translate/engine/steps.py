"""What the training loop does around each optimizer step: learning rates, finite-loss check,
agreement on a stop request, sample grids, checkpoints and the final model export."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from accelerate.utils import send_to_device

from ..components.build import BuiltMethod
from ..components.method import Method
from ..errors import TrainingDiverged
from ..recipe import Recipe
from ..run.checkpoint import Progress, latest_checkpoint, save_checkpoint
from ..run.layout import RunFolder
from ..run.nospace import disk_full_error, is_disk_full, state_nbytes
from .schedule import linear_decay_factor


def to_device(batch: Any, device: torch.device) -> Any:
    """Move the tensors of a (nested) batch to ``device`` (Accelerate's ``send_to_device``, non-blocking)."""
    return send_to_device(batch, device, non_blocking=True)


def set_lrs(method: Method, recipe: Recipe, progress: Progress, unit_total: int, per_epoch: bool) -> None:
    """Set every optimizer's learning rate from the schedule (per epoch or per step)."""
    t = progress.epoch if per_epoch else progress.step
    factor = linear_decay_factor(t, unit_total, recipe.train.decay)
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * factor


def any_process(flag: bool, accelerator: Any) -> bool:
    """Whether ``flag`` is true on any process (a collective call when there are several)."""
    return any_processes((flag,), accelerator)[0]


def any_processes(flags: tuple[bool, ...], accelerator: Any) -> tuple[bool, ...]:
    """For each flag, whether it is true on any process (one collective call for all of them)."""
    if accelerator.num_processes == 1:
        return flags
    value = torch.tensor([1.0 if f else 0.0 for f in flags], device=accelerator.device)
    return tuple(bool(v > 0) for v in accelerator.reduce(value, reduction="sum").tolist())


def check_finite(losses: dict[str, torch.Tensor], progress: Progress, run_dir: Path,
                 accelerator: Any) -> dict[str, float]:
    """The losses as floats; raises :class:`TrainingDiverged` when one is NaN or infinite on any process."""
    values = {k: float(v.detach().float().mean()) for k, v in losses.items()}
    if any_process(not all(math.isfinite(v) for v in values.values()), accelerator):
        names = [k for k, v in values.items() if not math.isfinite(v)] or ["(another process)"]
        good = latest_checkpoint(run_dir)
        kept = f"the last good checkpoint is kept: {good}" if good else "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"loss {', '.join(names)} became NaN or infinite at step {progress.step} (epoch {progress.epoch}); "
            f"training stopped and nothing more was saved; {kept}. Try a lower learning rate, "
            "train.mixed_precision='no', or check the data."
        )
    return values


def write_samples(built: BuiltMethod, batch: Any, accelerator: Any, run_dir: Path, step: int, seed: int) -> None:
    """Write the sample grid of ``step`` from the fixed batch, seeded with ``seed``.

    ``method.sample`` runs through :func:`.sampling.guarded_sample`: the networks' buffers and modes
    and every random number generator are restored afterwards, so sampling never changes training."""
    from .samples import save_grid
    from .sampling import guarded_sample

    batch = to_device(batch, accelerator.device)
    groups = guarded_sample(built.method, batch, seed, accelerator.device, built.losses.values())
    save_grid(groups, RunFolder(run_dir).sample(step))


def checkpoint(run_dir: Path, progress: Progress, method: Method, accelerator: Any, recipe: Recipe,
               protect: tuple[int, ...] = ()) -> Path:
    """Save the run's checkpoint at ``progress`` (every process calls it); pruning keeps the last
    ``keep_checkpoints`` and those of the ``protect`` steps (the best one)."""
    extra: dict[str, Any] = {}
    if accelerator.scaler is not None:
        extra["scaler"] = accelerator.scaler.state_dict()
    return save_checkpoint(
        run_dir, progress, networks=method.networks, optimizers=method.optimizers,
        method_state=method.state_dict(), extra=extra, accelerator=accelerator,
        keep=recipe.output.keep_checkpoints, protect=protect,
    )


def export(run_dir: Path, built: BuiltMethod, accelerator: Any, resolved: dict[str, Any],
           filename: str | None = None) -> Path | None:
    """Write ``RUN/model.safetensors`` (or ``RUN/<filename>``) on the main process; every process calls it.

    ``resolved`` is the run's resolved recipe (the method's name is its ``method.name``); the
    generators, their build records and the data set's ``DataInfo`` come from ``built``.

    Raises:
        DiskFull: the disk filled up.
    """
    from ..models import MODEL_FILENAME, save_model

    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return None
    exports = built.exports()
    info = built.data
    path = run_dir / (filename or MODEL_FILENAME)
    try:
        return save_model(path, method=resolved["method"]["name"], exports=exports, recipe=resolved,
                          data=info, limitations=tuple(built.method.limitations) + tuple(info.limitations))
    except Exception as err:
        if not is_disk_full(err):
            raise
        nbytes = sum(state_nbytes(net.state_dict()) for _, net, _ in exports)
        raise disk_full_error("the model file", path, nbytes, latest_checkpoint(run_dir)) from None

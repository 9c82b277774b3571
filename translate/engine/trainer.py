"""The training loop: one code path for CPU, one GPU, several GPUs and machines (Accelerate).

How one batch flows: the EpochSampler yields ``(index, seed)`` keys for this process;
the data set loads and augments the pair; the batch moves to the device; inside one
``accelerator.accumulate(*networks)`` the method's ``train_step`` runs its D and G
updates; when gradients were synchronised (an optimizer step happened) the step
counter advances, the learning rates are set, metrics, samples and checkpoints are
written on their schedules.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_text_atomic
from ..data import DataInfo
from ..errors import TrainingDiverged, TranslateError
from ..method import Method, StepContext
from ..recipe import Recipe, load_recipe, to_toml
from ..registry import Registry
from .checkpoint import Progress, latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint
from .logs import MetricsLog
from .sampler import EpochSampler
from .schedule import linear_decay_factor
from .setup import (
    build_dataset,
    build_method,
    check_precision,
    check_resume_recipe,
    make_accelerator,
    prepare,
    resolve_run_dir,
    sample_batch,
)


@dataclass
class RunResult:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    step: int
    total_steps: int
    model_path: Path | None
    last_losses: dict[str, float]


def train(
    recipe_path: str | Path,
    *,
    overrides: list[str] | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    registry: Registry | None = None,
) -> RunResult:
    """Train from a recipe file. See the module docstring for the flow of one batch."""
    if registry is None:
        from ..plugins import get_registry

        registry = get_registry()
    recipe_path = Path(recipe_path)
    recipe, resolved = load_recipe(recipe_path, overrides, registry)
    source = str(recipe_path)
    check_precision(recipe, source)
    run_dir = resolve_run_dir(recipe, recipe_path, output_dir)
    check_resume_recipe(run_dir, resolved, resume)
    if resume and latest_checkpoint(run_dir) is None:
        raise TranslateError(f"--resume: no checkpoint found in {run_dir / 'checkpoints'}")

    accelerator = make_accelerator(recipe)
    from accelerate.utils import set_seed

    set_seed(recipe.seed)
    train_set = build_dataset(recipe, registry, "train")
    method, info = build_method(recipe, registry, train_set, source)
    if recipe.train.sync_batchnorm and accelerator.num_processes > 1:
        for name, net in method.networks.items():
            method.networks[name] = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    prepare(accelerator, method)
    set_seed(recipe.seed + accelerator.process_index)  # per-process dropout noise

    sampler = EpochSampler(
        len(train_set), seed=recipe.seed, shuffle=recipe.data.shuffle, rank=accelerator.process_index,
        world=accelerator.num_processes, batch_size=recipe.data.batch_size,
    )
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=recipe.data.batch_size, sampler=sampler, num_workers=recipe.data.num_workers,
        pin_memory=accelerator.device.type == "cuda", persistent_workers=False,
        # Its own generator: iterating must not draw from the global RNG (resume equivalence).
        generator=torch.Generator().manual_seed(recipe.seed),
    )
    accum = recipe.train.gradient_accumulation_steps
    steps_per_epoch = max(1, sampler.batches_per_epoch // accum)
    if recipe.train.epochs is not None:
        total_steps, unit_total, per_epoch = recipe.train.epochs * steps_per_epoch, recipe.train.epochs, True
    else:
        total_steps, unit_total, per_epoch = recipe.train.steps or 0, recipe.train.steps or 0, False
    stop_at = min(total_steps, max_steps) if max_steps else total_steps

    progress = Progress()
    if resume:
        ckpt = latest_checkpoint(run_dir)
        assert ckpt is not None
        progress, method_state, extra = load_checkpoint(
            ckpt, networks=method.networks, optimizers=method.optimizers, accelerator=accelerator
        )
        method.load_state_dict(method_state)
        if accelerator.scaler is not None and "scaler" in extra:
            accelerator.scaler.load_state_dict(extra["scaler"])
        accelerator.print(f"resuming {run_dir} from {ckpt.name} (step {progress.step}, epoch {progress.epoch})")

    is_main = accelerator.is_main_process
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "recipe.toml", to_toml(resolved))
        write_text_atomic(run_dir / "recipe.json", json.dumps(resolved, indent=2))
    log = MetricsLog(run_dir, tensorboard=recipe.output.tensorboard,
                     resume_step=progress.step if resume else None) if is_main else None
    fixed_batch = sample_batch(recipe, registry, train_set) if is_main else None
    bar = _progress_bar(recipe, is_main, stop_at, progress.step)

    last: dict[str, float] = {}
    images_per_step = recipe.data.batch_size * accum * accelerator.num_processes
    tick, tick_step = time.perf_counter(), progress.step
    last_saved = progress.step if resume else -1
    try:
        while progress.step < stop_at:
            sampler.set_epoch(progress.epoch, progress.batch_in_epoch)
            for batch in loader:
                _set_lrs(method, recipe, progress, unit_total, per_epoch)
                batch = _to_device(batch, accelerator.device)
                step_ctx = StepContext(accelerator=accelerator, step=progress.step, epoch=progress.epoch)
                with accelerator.accumulate(*method.networks.values()):
                    losses = method.train_step(batch, step_ctx)
                progress.batch_in_epoch += 1
                if not accelerator.sync_gradients:
                    continue
                progress.step += 1
                last = _check_finite(losses, progress, run_dir, accelerator)
                if is_main:
                    now = time.perf_counter()
                    rate = images_per_step * (progress.step - tick_step) / max(now - tick, 1e-9)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix({**{k: f"{v:.3g}" for k, v in last.items()}, "img/s": f"{rate:.1f}"})
                    if progress.step % recipe.output.log_every == 0 or progress.step == stop_at:
                        lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in method.optimizers.items()}
                        assert log is not None
                        log.log(progress.step, {"epoch": progress.epoch, **last, **lrs, "images_per_s": round(rate, 3)})
                        tick, tick_step = now, progress.step
                    if progress.step % recipe.output.sample_every == 0 or progress.step == stop_at:
                        _write_samples(method, fixed_batch, accelerator, run_dir, progress.step, recipe.seed)
                if progress.step % recipe.output.checkpoint_every == 0:
                    _checkpoint(run_dir, progress, method, accelerator, recipe)
                    last_saved = progress.step
                if progress.step >= stop_at:
                    break
            else:
                progress.epoch += 1
                progress.batch_in_epoch = 0
                continue
            break
        if last_saved != progress.step:
            _checkpoint(run_dir, progress, method, accelerator, recipe)
        model_path = _export(run_dir, method, accelerator, recipe, resolved, info)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    accelerator.wait_for_everyone()
    return RunResult(run_dir, progress.step, total_steps, model_path, last)


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _set_lrs(method: Method, recipe: Recipe, progress: Progress, unit_total: int, per_epoch: bool) -> None:
    t = progress.epoch if per_epoch else progress.step
    factor = linear_decay_factor(t, unit_total, recipe.train.decay)
    for opt in method.optimizers.values():
        for group in opt.param_groups:
            group["lr"] = group["initial_lr"] * factor


def _check_finite(losses: dict[str, torch.Tensor], progress: Progress, run_dir: Path, accelerator: Any) -> dict[str, float]:
    values = {k: float(v.detach().float().mean()) for k, v in losses.items()}
    bad = torch.tensor([0.0 if math.isfinite(v) else 1.0 for v in values.values()] or [0.0],
                       device=accelerator.device)
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, reduction="sum")
    if bool((bad > 0).any()):
        names = [k for k, v in values.items() if not math.isfinite(v)] or ["(another process)"]
        good = latest_checkpoint(run_dir)
        kept = f"the last good checkpoint is kept: {good}" if good else "no checkpoint had been written yet"
        raise TrainingDiverged(
            f"loss {', '.join(names)} became NaN or infinite at step {progress.step} (epoch {progress.epoch}); "
            f"training stopped and nothing more was saved; {kept}. Try a lower learning rate, "
            "train.mixed_precision='no', or check the data."
        )
    return values


def _write_samples(method: Method, batch: Any, accelerator: Any, run_dir: Path, step: int, seed: int) -> None:
    from .samples import save_grid

    batch = _to_device(batch, accelerator.device)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        groups = method.sample(batch)
    save_grid(groups, run_dir / "samples" / f"step-{step:08d}.png")


def _checkpoint(run_dir: Path, progress: Progress, method: Method, accelerator: Any, recipe: Recipe) -> None:
    extra: dict[str, Any] = {}
    if accelerator.scaler is not None:
        extra["scaler"] = accelerator.scaler.state_dict()
    save_checkpoint(
        run_dir, progress, networks=method.networks, optimizers=method.optimizers,
        method_state=method.state_dict(), extra=extra, accelerator=accelerator,
        keep=recipe.output.keep_checkpoints,
    )


def _export(run_dir: Path, method: Method, accelerator: Any, recipe: Recipe, resolved: dict[str, Any],
            info: DataInfo) -> Path | None:
    from ..modelfile import MODEL_FILENAME, save_model

    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return None
    exports = [(spec, accelerator.unwrap_model(method.networks[spec.network])) for spec in method.exports()]
    return save_model(run_dir / MODEL_FILENAME, method=recipe.method.name, exports=exports, recipe=resolved,
                      data=info, limitations=tuple(method.limitations) + tuple(info.limitations))


def _progress_bar(recipe: Recipe, is_main: bool, total: int, initial: int) -> Any:
    if not (is_main and recipe.output.progress):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=0.5)


__all__ = ["train", "RunResult", "list_checkpoints"]

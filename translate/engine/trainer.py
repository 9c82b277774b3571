"""The training loop: one code path for CPU, one GPU, several GPUs and machines (Accelerate).

How one batch flows: the EpochSampler yields ``(index, seed)`` keys for this process;
the data set loads and augments the pair; the batch moves to the device (where
``data.options.device_augment`` augments it again, see device_augment.py); inside one
``accelerator.accumulate(*networks)`` the method's ``train_step`` runs its D and G
updates; when gradients were synchronised (an optimizer step happened) the step
counter advances, the learning rates are set, metrics, samples and checkpoints are
written on their schedules.

Around the loop: the run folder is locked (lock.py) so that one process trains in it; a
damaged newest checkpoint falls back to the previous whole one (resume.py); SIGINT/SIGTERM
finish the step, save a checkpoint and raise :class:`RunInterrupted` (interrupt.py); a full
disk is one clear error (nospace.py). A recipe's ``[eval]`` table evaluates the exported
generators every N steps and at the end, and keeps the best checkpoint (evaluate.py).
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..components.method import StepContext
from ..data import device_augment
from ..data.contract import BadDataFile
from ..errors import TranslateError
from ..plugin.registry import Registry
from ..recipe import Recipe, load_recipe, to_toml
from ..run.checkpoint import Progress, checkpoint_dir, list_checkpoints, load_checkpoint
from ..run.lock import RunLock
from ..run.logs import MetricsLog
from ..run.resume import choose_checkpoint
from ..utils.atomic import write_text_atomic
from . import speed, steps
from .data_wait import DataClock
from .environment import write_environment
from .evaluate import TrainingEvaluation
from .init_from import init_from_model
from .interrupt import RunInterrupted, StopSignals, ignore_stop_signals, resume_command
from .progress import make_progress
from .sampler import EpochSampler
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
    """Train from a recipe file. See the module docstring for the flow of one batch.

    Raises:
        RunInterrupted: SIGINT or SIGTERM stopped the run; a checkpoint was saved first.
        RunFolderBusy: another live process trains in the run folder.
        DiskFull: the disk filled up while saving (the last good checkpoint is intact).
    """
    if registry is None:
        from ..plugin.loading import get_registry

        registry = get_registry()
    recipe_path = Path(recipe_path)
    recipe, resolved = load_recipe(recipe_path, overrides, registry)
    check_precision(recipe, str(recipe_path))
    run_dir = resolve_run_dir(recipe, recipe_path, output_dir)
    if resume and not list_checkpoints(run_dir):
        raise TranslateError(f"--resume: no checkpoint found in {run_dir / 'checkpoints'}")
    accelerator = make_accelerator(recipe)
    with contextlib.ExitStack() as stack:
        if accelerator.is_main_process:  # one lock per run, held by the main process
            stack.enter_context(RunLock(run_dir))
        check_resume_recipe(run_dir, resolved, resume)
        return _train(recipe_path, overrides, recipe, resolved, run_dir, accelerator, registry,
                      max_steps=max_steps, resume=resume)


def _train(recipe_path: Path, overrides: list[str] | None, recipe: Recipe, resolved: dict[str, Any], run_dir: Path,
           accelerator: Any, registry: Registry, *, max_steps: int | None, resume: bool) -> RunResult:
    from accelerate.utils import set_seed

    is_main = accelerator.is_main_process
    ckpt = None
    if resume:
        ckpt, notes = choose_checkpoint(run_dir, rank=accelerator.process_index, rename=is_main)
        for note in notes:
            accelerator.print(note)
    set_seed(recipe.seed)
    with accelerator.main_process_first():  # a generated data set is written once, by the main process
        train_set = build_dataset(recipe, registry, "train")
    method, info = build_method(recipe, registry, train_set, str(recipe_path))
    if recipe.train.init_from and ckpt is None:  # fine-tuning; a resumed run has its weights in the checkpoint
        for line in init_from_model(method, recipe.train.init_from, registry, str(recipe_path)):
            accelerator.print(f"train.init_from: {line}")
    evaluation = None
    if recipe.eval is not None:  # before the seed below: building metrics may draw random numbers
        evaluation = TrainingEvaluation(recipe, registry, run_dir, accelerator, resume=resume)
        evaluation.check(method)
    if recipe.train.sync_batchnorm and accelerator.num_processes > 1:
        for name, net in method.networks.items():
            method.networks[name] = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
    plan = speed.resolve_speed(recipe.train, accelerator.device.type)
    speed.before_prepare(method, plan)
    prepare(accelerator, method)
    speed.after_prepare(method, plan)
    accelerator.print(f"speed: {recipe.train.speed} ({plan.describe()})")
    set_seed((recipe.seed + accelerator.process_index) % 2**32)  # per-process dropout noise

    augment = device_augment.for_recipe(recipe, registry, train_set.channels, rank=accelerator.process_index,
                                        source=str(recipe_path))
    sampler = EpochSampler(
        len(train_set), seed=recipe.seed, shuffle=recipe.data.shuffle, rank=accelerator.process_index,
        world=accelerator.num_processes, batch_size=recipe.data.batch_size,
    )
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=recipe.data.batch_size, sampler=sampler, num_workers=recipe.data.num_workers,
        pin_memory=accelerator.device.type == "cuda", persistent_workers=False,
        # Its own generator: iterating must not draw from the global RNG (resume equivalence).
        generator=torch.Generator().manual_seed(recipe.seed), worker_init_fn=ignore_stop_signals,
    )
    accum = recipe.train.gradient_accumulation_steps
    steps_per_epoch = max(1, sampler.batches_per_epoch // accum)
    if recipe.train.epochs is not None:
        total_steps, unit_total, per_epoch = recipe.train.epochs * steps_per_epoch, recipe.train.epochs, True
    else:
        total_steps, unit_total, per_epoch = recipe.train.steps or 0, recipe.train.steps or 0, False
    stop_at = min(total_steps, max_steps) if max_steps else total_steps

    progress = Progress()
    if ckpt is not None:
        progress, method_state, extra = load_checkpoint(
            ckpt, networks=method.networks, optimizers=method.optimizers, accelerator=accelerator
        )
        method.load_state_dict(method_state)
        speed.match_optimizer_layouts(method)
        if accelerator.scaler is not None and "scaler" in extra:
            accelerator.scaler.load_state_dict(extra["scaler"])
        accelerator.print(f"resuming {run_dir} from {ckpt.name} (step {progress.step}, epoch {progress.epoch})")

    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "recipe.toml", to_toml(resolved))
        write_text_atomic(run_dir / "recipe.json", json.dumps(resolved, indent=2))
        write_environment(run_dir, registry=registry, num_processes=accelerator.num_processes)
    log = MetricsLog(run_dir, tensorboard=recipe.output.tensorboard,
                     resume_step=progress.step if resume else None) if is_main else None
    if log is not None and log.replaced is not None:
        accelerator.print(f"{run_dir}: an earlier run left metrics but no checkpoint; starting the log afresh "
                          f"(the old one is kept as {log.replaced.name})")
    fixed_batch = sample_batch(recipe, registry, train_set) if is_main else None
    bar = make_progress(is_main and recipe.output.progress, stop_at, progress.step)

    last: dict[str, float] = {}
    images_per_step = recipe.data.batch_size * accum * accelerator.num_processes
    tick, tick_step = time.perf_counter(), progress.step
    data_clock = DataClock()  # data_wait in the log: the loop blocked on the loader, as a fraction of wall time
    last_saved = progress.step if resume else -1
    stopped = False
    try:
        with StopSignals() as stop:
            try:
                while progress.step < stop_at and not stopped:
                    sampler.set_epoch(progress.epoch, progress.batch_in_epoch)
                    for batch in data_clock.iterate(loader):
                        steps.set_lrs(method, recipe, progress, unit_total, per_epoch)
                        batch = augment(steps.to_device(batch, accelerator.device), progress.epoch,
                                        progress.batch_in_epoch)  # data.options.device_augment (kornia)
                        batch = speed.format_batch(batch, plan)
                        step_ctx = StepContext(accelerator=accelerator, step=progress.step, epoch=progress.epoch)
                        with accelerator.accumulate(*method.networks.values()):
                            losses = method.train_step(batch, step_ctx)
                        progress.batch_in_epoch += 1
                        if not accelerator.sync_gradients:
                            continue
                        progress.step += 1
                        last = steps.check_finite(losses, progress, run_dir, accelerator)
                        if is_main:
                            now = time.perf_counter()
                            rate = images_per_step * (progress.step - tick_step) / max(now - tick, 1e-9)
                            if bar is not None:
                                bar.update(progress.step, {**{k: f"{v:.3g}" for k, v in last.items()},
                                                           "img/s": f"{rate:.1f}"})
                            if progress.step % recipe.output.log_every == 0 or progress.step == stop_at:
                                lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in method.optimizers.items()}
                                assert log is not None
                                log.log(progress.step, {"epoch": progress.epoch, **last, **lrs,
                                                        "images_per_s": round(rate, 3),
                                                        "data_wait": round(data_clock.fraction_since_mark(now - tick), 4)})
                                tick, tick_step = now, progress.step
                            if progress.step % recipe.output.sample_every == 0 or progress.step == stop_at:
                                steps.write_samples(method, fixed_batch, accelerator, run_dir, progress.step, recipe.seed)
                        due = evaluation is not None and evaluation.due(progress.step, progress.step == stop_at)
                        if _checkpoint_and_evaluate(
                                evaluation, progress, method, log, run_dir, accelerator, recipe, resolved, info,
                                evaluate=due, save=progress.step % recipe.output.checkpoint_every == 0,
                                have_checkpoint=False) is not None:
                            last_saved = progress.step
                        stopped = progress.step < stop_at and steps.any_process(stop.requested, accelerator)
                        if progress.step >= stop_at or stopped:
                            break
                    else:
                        progress.epoch += 1
                        progress.batch_in_epoch = 0
            except BadDataFile as err:  # data.on_bad_file = "stop": keep the progress made so far
                if accelerator.num_processes > 1 or progress.step == 0 or last_saved == progress.step:
                    raise
                saved = steps.checkpoint(run_dir, progress, method, accelerator, recipe, protect=_protect(evaluation))
                raise BadDataFile(f"{err}; progress is saved in checkpoint {saved}: fix or remove the file, then "
                                  f"resume with: {resume_command(recipe_path, run_dir, overrides)}") from None
            final_eval = evaluation is not None and not stopped and evaluation.evaluated_step != progress.step
            saved = _checkpoint_and_evaluate(
                evaluation, progress, method, log, run_dir, accelerator, recipe, resolved, info,
                evaluate=final_eval, save=last_saved != progress.step, have_checkpoint=last_saved == progress.step)
            if stopped:
                saved = saved or list_checkpoints(run_dir)[-1]
                raise RunInterrupted(stop.signum or signal.SIGTERM, progress.step, saved,
                                     resume_command(recipe_path, run_dir, overrides))
            model_path = steps.export(run_dir, method, accelerator, recipe, resolved, info)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    if evaluation is not None:  # after the progress bar: the table of the last evaluation, evaluation.json
        evaluation.finish(model_path, info)
    accelerator.wait_for_everyone()
    return RunResult(run_dir, progress.step, total_steps, model_path, last)


def _protect(evaluation: TrainingEvaluation | None) -> tuple[int, ...]:
    return evaluation.protected_steps() if evaluation is not None else ()


def _checkpoint_and_evaluate(evaluation: TrainingEvaluation | None, progress: Progress, method: Any, log: Any,
                             run_dir: Path, accelerator: Any, recipe: Recipe, resolved: dict[str, Any], info: Any, *,
                             evaluate: bool, save: bool, have_checkpoint: bool) -> Path | None:
    """Evaluate when asked, then save a checkpoint when one is scheduled or when ``eval.best`` improved (unless
    this step has one), and write the best model; every process calls it. The checkpoint saved, or None."""
    improved = evaluate and evaluation is not None and evaluation.evaluate(progress.step, method, log)
    path = None
    if save or (improved and not have_checkpoint):
        path = steps.checkpoint(run_dir, progress, method, accelerator, recipe, protect=_protect(evaluation))
    if improved:
        assert evaluation is not None
        where = path or checkpoint_dir(run_dir) / f"step-{progress.step:08d}"
        evaluation.write_best(progress.step, where, method, resolved, info)
    return path


__all__ = ["train", "RunResult", "RunInterrupted", "list_checkpoints"]

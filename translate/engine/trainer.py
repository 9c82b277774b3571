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
finish the step, save a checkpoint and raise :class:`RunInterrupted`, SIGUSR1 and
``output.checkpoint_minutes`` save one and go on (interrupt.py); ``resume="auto"`` resumes when the
folder holds a checkpoint and starts afresh when not (preemptible jobs); a full disk is one clear
error (nospace.py). A recipe's ``[eval]`` table evaluates the exported
generators every N steps and at the end, and keeps the best checkpoint (evaluate.py).
"""

from __future__ import annotations

import contextlib
import itertools
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
from ..run.layout import RunFolder
from ..run.lock import RunLock
from ..run.logs import MetricsLog
from ..run.resume import choose_checkpoint
from . import calibrate, speed, steps
from .data_wait import DataClock
from .environment import cpu_summary, write_environment
from .evaluate import TrainingEvaluation
from .init_from import init_from_model
from .interrupt import CheckpointTimer, RunInterrupted, StopSignals, ignore_stop_signals, resume_command
from .progress import make_progress
from .sampler import EpochSampler
from .setup import (
    build_dataset,
    build_method,
    check_precision,
    check_resume_recipe,
    data_options,
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


@dataclass(frozen=True)
class RunRequest:
    """What ``translate run`` was asked: the recipe (read and resolved), the run folder and the limits."""

    recipe_path: Path
    overrides: list[str] | None
    recipe: Recipe
    resolved: dict[str, Any]
    run_dir: Path
    max_steps: int | None
    resume: bool
    auto: bool = False
    """``resume="auto"`` was asked (``resume`` then says whether a checkpoint was found)."""


def train(
    recipe_path: str | Path,
    *,
    overrides: list[str] | None = None,
    output_dir: str | None = None,
    max_steps: int | None = None,
    resume: bool | str = False,
    registry: Registry | None = None,
) -> RunResult:
    """Train from a recipe file. See the module docstring for the flow of one batch.

    ``resume``: True continues from the newest whole checkpoint (an error when the folder holds none);
    ``"auto"`` does so when the folder holds a checkpoint and starts a new run when it holds none (a
    folder left by a run killed before its first checkpoint included); False starts a new run.

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
    if resume not in (True, False, "auto"):
        raise TranslateError(f"resume={resume!r}: expected True, False or 'auto'")
    auto = resume == "auto"
    if auto:
        resume = bool(list_checkpoints(run_dir))
    elif resume and not list_checkpoints(run_dir):
        raise TranslateError(f"--resume: no checkpoint found in {run_dir / 'checkpoints'}; "
                             "--resume auto starts a new run in that case")
    request = RunRequest(recipe_path, overrides, recipe, resolved, run_dir, max_steps, bool(resume), auto)
    accelerator = make_accelerator(recipe)
    with contextlib.ExitStack() as stack:
        if accelerator.is_main_process:  # one lock per run, held by the main process
            stack.enter_context(RunLock(run_dir))
        check_resume_recipe(run_dir, resolved, resume)
        return TrainingRun(request, accelerator, registry).run()


class TrainingRun:
    """One training run, as a short sequence of named steps (:meth:`run`); what they share lives here.

    The order of the steps is the order of random draws and file writes, which resuming and the
    bit-identical reference runs depend on: build, restore, open the run folder, loop, finish.
    """

    def __init__(self, request: RunRequest, accelerator: Any, registry: Registry) -> None:
        self.request, self.accelerator, self.registry = request, accelerator, registry
        self.recipe, self.run_dir = request.recipe, request.run_dir
        self.is_main = accelerator.is_main_process
        self.progress = Progress()
        self.evaluation: TrainingEvaluation | None = None
        self.log: MetricsLog | None = None
        self.bar: Any = None
        self.last: dict[str, float] = {}
        self.stopped = False
        self.last_saved = -1
        self.calibration: calibrate.Calibration | None = None
        self.timer = CheckpointTimer(self.recipe.output.checkpoint_minutes)

    def run(self) -> RunResult:
        """Build, restore, open the run folder, train, finish: the whole run."""
        ckpt = self._choose_checkpoint()
        self._build(fine_tune=ckpt is None)
        self._make_loader()
        self._calibrate(resumed=ckpt is not None)
        if ckpt is not None:
            self._restore(ckpt)
        self._open_run_folder()
        try:
            model_path = self._train_and_export()
        finally:
            if self.bar is not None:
                self.bar.close()
            if self.log is not None:
                self.log.close()
        if self.evaluation is not None:  # after the progress bar: the table of the last evaluation, evaluation.json
            self.evaluation.finish(model_path, self.info)
        self.accelerator.wait_for_everyone()
        return RunResult(self.run_dir, self.progress.step, self.total_steps, model_path, self.last)

    # -- the steps, in order

    def _choose_checkpoint(self) -> Path | None:
        """The checkpoint to resume from (None for a new run), past damaged ones."""
        if not self.request.resume:
            if self.request.auto:
                self.accelerator.print(f"--resume auto: no checkpoint in {checkpoint_dir(self.run_dir)}; "
                                       "starting the run from step 0")
            return None
        ckpt, notes = choose_checkpoint(self.run_dir, rank=self.accelerator.process_index, rename=self.is_main)
        for note in notes:
            self.accelerator.print(note)
        return ckpt

    def _build(self, *, fine_tune: bool) -> None:
        """The data set, the method (from ``init_from`` when fine-tuning), evaluation, the speed plan, prepare."""
        from accelerate.utils import set_seed

        recipe, accelerator, registry = self.recipe, self.accelerator, self.registry
        source = str(self.request.recipe_path)
        set_seed(recipe.seed)
        self.data_options = data_options(recipe, registry)  # parsed once: every split, device augmentation
        with accelerator.main_process_first():  # a generated data set is written once, by the main process
            self.train_set = build_dataset(recipe, registry, "train", self.data_options)
        self.built = build_method(recipe, registry, self.train_set, source)
        self.method, self.info = self.built.method, self.built.data
        if recipe.train.init_from and fine_tune:  # a resumed run has its weights in the checkpoint
            for line in init_from_model(self.method, recipe.train.init_from, registry, source):
                accelerator.print(f"train.init_from: {line}")
        if recipe.eval is not None:  # before the seed below: building metrics may draw random numbers
            self.evaluation = TrainingEvaluation(recipe, registry, self.run_dir, accelerator,
                                                 resume=self.request.resume, data_options=self.data_options)
            self.evaluation.check(self.method)
        if recipe.train.sync_batchnorm and accelerator.num_processes > 1:
            for name, net in self.method.networks.items():
                self.method.networks[name] = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        self.plan = speed.resolve_speed(recipe.train, accelerator.device.type)
        speed.before_prepare(self.method, self.plan)
        prepare(accelerator, self.built)
        set_seed((recipe.seed + accelerator.process_index) % 2**32)  # per-process dropout noise

    def _calibrate(self, *, resumed: bool) -> None:
        """The speed plan's free layout levers: timed on the first batch, from the cache, or (resuming) as
        the run recorded them; then compile (:mod:`.calibrate`). Leaves the training state as it was."""
        recipe, accelerator = self.recipe, self.accelerator
        self.calibration = calibrate.choose(self, resumed=resumed)
        if self.calibration is not None:
            self.plan = self.calibration.plan
            accelerator.print(self.calibration.summary())
        speed.after_prepare(self.method, self.plan)
        where = cpu_summary() if accelerator.device.type == "cpu" else str(accelerator.device)
        accelerator.print(f"speed: {recipe.train.speed} ({self.plan.describe()}) on {where}")

    def _make_loader(self) -> None:
        """Device augmentation, the sampler, the loader and the schedule's length."""
        recipe, accelerator = self.recipe, self.accelerator
        self.augment = device_augment.device_augmentation(self.data_options, self.train_set.channels, seed=recipe.seed,
                                                          rank=accelerator.process_index,
                                                          source=str(self.request.recipe_path))
        self.sampler = EpochSampler(
            len(self.train_set), seed=recipe.seed, shuffle=recipe.data.shuffle, rank=accelerator.process_index,
            world=accelerator.num_processes, batch_size=recipe.data.batch_size,
        )
        self.loader = torch.utils.data.DataLoader(
            self.train_set, batch_size=recipe.data.batch_size, sampler=self.sampler,
            num_workers=recipe.data.num_workers, pin_memory=accelerator.device.type == "cuda",
            persistent_workers=False,
            # Its own generator: iterating must not draw from the global RNG (resume equivalence).
            generator=torch.Generator().manual_seed(recipe.seed), worker_init_fn=ignore_stop_signals,
        )
        accum = recipe.train.gradient_accumulation_steps
        steps_per_epoch = max(1, self.sampler.batches_per_epoch // accum)
        if recipe.train.epochs is not None:
            self.total_steps, self.unit_total, self.per_epoch = recipe.train.epochs * steps_per_epoch, \
                recipe.train.epochs, True
        else:
            self.total_steps, self.unit_total, self.per_epoch = recipe.train.steps or 0, recipe.train.steps or 0, False
        max_steps = self.request.max_steps
        self.stop_at = min(self.total_steps, max_steps) if max_steps else self.total_steps
        self.images_per_step = recipe.data.batch_size * accum * accelerator.num_processes

    def calibration_batch(self) -> Any:
        """The run's first batch as the loop will see it (on the device, augmented), made without
        iterating the loader (whose generator seeds the workers) or moving the sampler."""
        keys = list(itertools.islice(iter(self.sampler), self.recipe.data.batch_size))
        batch = torch.utils.data.default_collate([self.train_set[key] for key in keys])
        self.sampler.set_epoch(0)
        return self.augment(steps.to_device(batch, self.accelerator.device), 0, 0)

    def calibration_step(self, batch: Any, plan: speed.SpeedPlan) -> Any:
        """One training step on ``batch`` in ``plan``'s memory format; the method's losses."""
        method, accelerator = self.method, self.accelerator
        steps.set_lrs(method, self.recipe, self.progress, self.unit_total, self.per_epoch)
        step_ctx = StepContext(accelerator=accelerator, step=self.progress.step, epoch=self.progress.epoch)
        with accelerator.accumulate(*method.networks.values()):
            return method.train_step(speed.format_batch(batch, plan), step_ctx)

    def _restore(self, ckpt: Path) -> None:
        """Weights, optimizers, method state, the grad scaler and the position in the data, from ``ckpt``."""
        method, accelerator = self.method, self.accelerator
        self.progress, method_state, extra = load_checkpoint(
            ckpt, networks=method.networks, optimizers=method.optimizers, accelerator=accelerator
        )
        method.load_state_dict(method_state)
        speed.match_optimizer_layouts(method)
        if accelerator.scaler is not None and "scaler" in extra:
            accelerator.scaler.load_state_dict(extra["scaler"])
        accelerator.print(f"resuming {self.run_dir} from {ckpt.name} "
                          f"(step {self.progress.step}, epoch {self.progress.epoch})")

    def _open_run_folder(self) -> None:
        """The resolved recipe, the environment, the metrics log, the fixed sample batch, the progress bar."""
        recipe, run_dir, resume = self.recipe, self.run_dir, self.request.resume
        if self.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            RunFolder(run_dir).write_recipe(to_toml(self.request.resolved), self.request.resolved)
            write_environment(run_dir, registry=self.registry, num_processes=self.accelerator.num_processes,
                              speed_plan=f"{recipe.train.speed}: {self.plan.describe()}",
                              speed=self.calibration.to_json() if self.calibration is not None else None)
            self.log = MetricsLog(run_dir, tensorboard=recipe.output.tensorboard,
                                  resume_step=self.progress.step if resume else None)
            if self.log.replaced is not None:
                self.accelerator.print(f"{run_dir}: an earlier run left metrics but no checkpoint; starting the log "
                                       f"afresh (the old one is kept as {self.log.replaced.name})")
        self.fixed_batch = sample_batch(recipe, self.registry, self.train_set, self.data_options) if self.is_main \
            else None
        self.bar = make_progress(self.is_main and recipe.output.progress, self.stop_at, self.progress.step)
        self.last_saved = self.progress.step if resume else -1

    def _train_and_export(self) -> Path | None:
        """The loop under the stop signals; the final evaluation and checkpoint; the model file."""
        with StopSignals() as stop:
            try:
                self._loop(stop)
            except BadDataFile as err:  # data.on_bad_file = "stop": keep the progress made so far
                self._save_after_bad_file(err)
            progress, evaluation = self.progress, self.evaluation
            final_eval = evaluation is not None and not self.stopped and evaluation.evaluated_step != progress.step
            saved = self._checkpoint_and_evaluate(evaluate=final_eval, save=self.last_saved != progress.step,
                                                  have_checkpoint=self.last_saved == progress.step)
            if self.stopped:
                saved = saved or list_checkpoints(self.run_dir)[-1]
                raise RunInterrupted(stop.signum or signal.SIGTERM, progress.step, saved, self._resume_command())
            return steps.export(self.run_dir, self.built, self.accelerator, self.request.resolved)

    def _loop(self, stop: StopSignals) -> None:
        """Epochs of batches until ``stop_at`` optimizer steps or a stop signal."""
        progress = self.progress
        self.tick, self.tick_step = time.perf_counter(), progress.step
        self.data_clock = DataClock()  # data_wait in the log: the loop blocked on the loader, a fraction of wall time
        self.timer.restart()  # output.checkpoint_minutes counts training time, not the setup
        while progress.step < self.stop_at and not self.stopped:
            self.sampler.set_epoch(progress.epoch, progress.batch_in_epoch)
            for batch in self.data_clock.iterate(self.loader):
                if self._step(batch):
                    self._after_optimizer_step(stop)
                    if progress.step >= self.stop_at or self.stopped:
                        break
            else:
                progress.epoch += 1
                progress.batch_in_epoch = 0

    def _step(self, batch: Any) -> bool:
        """One batch through the method's ``train_step``; whether an optimizer step happened."""
        method, accelerator, progress = self.method, self.accelerator, self.progress
        steps.set_lrs(method, self.recipe, progress, self.unit_total, self.per_epoch)
        batch = self.augment(steps.to_device(batch, accelerator.device), progress.epoch,
                             progress.batch_in_epoch)  # data.options.device_augment (kornia)
        batch = speed.format_batch(batch, self.plan)
        step_ctx = StepContext(accelerator=accelerator, step=progress.step, epoch=progress.epoch)
        with accelerator.accumulate(*method.networks.values()):
            self.losses = method.train_step(batch, step_ctx)
        progress.batch_in_epoch += 1
        if not accelerator.sync_gradients:
            return False
        progress.step += 1
        return True

    def _after_optimizer_step(self, stop: StopSignals) -> None:
        """Finite losses, then (main process) progress, metrics and samples; evaluation and checkpoints."""
        progress, recipe = self.progress, self.recipe
        self.last = steps.check_finite(self.losses, progress, self.run_dir, self.accelerator)
        if self.is_main:
            self._log_and_sample()
        due = self.evaluation is not None and self.evaluation.due(progress.step, progress.step == self.stop_at)
        # one collective for both: a stop (SIGINT/SIGTERM), a checkpoint asked (SIGUSR1, checkpoint_minutes)
        stop_asked, save_asked = steps.any_processes((stop.requested, stop.take_checkpoint_request()
                                                      or self.timer.due()), self.accelerator)
        save = save_asked or progress.step % recipe.output.checkpoint_every == 0
        if self._checkpoint_and_evaluate(evaluate=due, save=save, have_checkpoint=False) is not None:
            self.last_saved = progress.step
            self.timer.restart()
        self.stopped = progress.step < self.stop_at and stop_asked

    def _log_and_sample(self) -> None:
        """The progress bar, ``metrics.jsonl`` every ``log_every`` steps, sample grids every ``sample_every``."""
        progress, recipe, last = self.progress, self.recipe, self.last
        now = time.perf_counter()
        rate = self.images_per_step * (progress.step - self.tick_step) / max(now - self.tick, 1e-9)
        if self.bar is not None:
            self.bar.update(progress.step, {**{k: f"{v:.3g}" for k, v in last.items()}, "img/s": f"{rate:.1f}"})
        if progress.step % recipe.output.log_every == 0 or progress.step == self.stop_at:
            lrs = {f"lr_{n}": o.param_groups[0]["lr"] for n, o in self.method.optimizers.items()}
            assert self.log is not None
            self.log.log(progress.step, {"epoch": progress.epoch, **last, **lrs, "images_per_s": round(rate, 3),
                                         "data_wait": round(self.data_clock.fraction_since_mark(now - self.tick), 4)})
            self.tick, self.tick_step = now, progress.step
        if progress.step % recipe.output.sample_every == 0 or progress.step == self.stop_at:
            steps.write_samples(self.built, self.fixed_batch, self.accelerator, self.run_dir, progress.step,
                                recipe.seed)

    def _save_after_bad_file(self, err: BadDataFile) -> None:
        """A bad data file stopped the run: checkpoint what was done (single process, some progress), re-raise."""
        progress = self.progress
        if self.accelerator.num_processes > 1 or progress.step == 0 or self.last_saved == progress.step:
            raise err
        saved = steps.checkpoint(self.run_dir, progress, self.method, self.accelerator, self.recipe,
                                 protect=self._protected())
        raise BadDataFile(f"{err}; progress is saved in checkpoint {saved}: fix or remove the file, then "
                          f"resume with: {self._resume_command()}") from None

    def _checkpoint_and_evaluate(self, *, evaluate: bool, save: bool, have_checkpoint: bool) -> Path | None:
        """Evaluate when asked, then save a checkpoint when one is scheduled or when ``eval.best`` improved (unless
        this step has one), and write the best model; every process calls it. The checkpoint saved, or None."""
        evaluation, progress = self.evaluation, self.progress
        improved = evaluate and evaluation is not None and evaluation.evaluate(progress.step, self.method, self.log)
        path = None
        if save or (improved and not have_checkpoint):
            path = steps.checkpoint(self.run_dir, progress, self.method, self.accelerator, self.recipe,
                                    protect=self._protected())
        if improved:
            assert evaluation is not None
            where = path or checkpoint_dir(self.run_dir) / f"step-{progress.step:08d}"
            evaluation.write_best(progress.step, where, self.built, self.request.resolved)
        return path

    def _protected(self) -> tuple[int, ...]:
        return self.evaluation.protected_steps() if self.evaluation is not None else ()

    def _resume_command(self) -> str:
        return resume_command(self.request.recipe_path, self.run_dir, self.request.overrides)


__all__ = ["train", "RunRequest", "RunResult", "RunInterrupted", "TrainingRun", "list_checkpoints"]

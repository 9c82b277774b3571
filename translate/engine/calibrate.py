"""Calibrating the fast plan on the run's own networks: the layout levers timed, the fastest kept.

Which layout levers pay depends on the CPU (AVX2 or AVX-512, native bf16 or not), the networks
and the batch: small convolutions as GEMMs buy 1.4x for a U-Net on one CPU and nothing for a
ResNet generator, channels_last activations buy 1.3x for CycleGAN in bf16 and were never measured
in fp32. So ``train.speed = "fast"`` on the CPU does not guess: before the first step it times
every combination of the levers the recipe left unset (``train.channels_last``,
``train.gemm_convs``) on the run's own method and first batch, and keeps the fastest whose losses
agree with the plain layout's (:data:`LOSS_TOLERANCE`). The plain layout is always a candidate, so
fast is never slower than the reference layout by more than the timing noise.

The measurement is a few real training steps: each candidate one warm-up step, then up to
:data:`ROUNDS` interleaved timed steps (candidates take turns, so all see the same machine load;
fewer when the steps are slow, :data:`BUDGET_SECONDS`); the median is compared. Everything the steps change (parameters, buffers, optimizer and method
state, the gradient scaler, Accelerate's step counter, every RNG) is put back afterwards, so the
run that follows is the one it would have been with that plan set explicitly. The outcome is
cached per machine and configuration (:func:`cache_key`) in ``~/.cache/translate/speed``, as
cuDNN's benchmark mode keeps its choices, and recorded in ``RUN/environment.json``; a resumed run
reuses the plan its checkpoints were trained with. Precision is not calibrated (Accelerate keeps
one per process, chosen before the networks exist): bf16 where the device computes it natively
(:func:`translate.nn.precision.native_bf16`), measured 1.5-2.1x on such CPUs, fp32 elsewhere.
GPUs keep the preset: parameters in channels_last are converted before the networks are wrapped
for data parallelism, so that lever cannot be switched afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from ..nn.gemm_conv import use_gemm_convolutions, use_library_convolutions
from ..run.layout import read_run_json
from . import calibration_cache
from .environment import ENVIRONMENT_FILE
from .sampling import state_modules, steps_undone
from .speed import SpeedPlan

ROUNDS = 3
"""Timed steps per candidate (after one warm-up step each), taken in turns."""

BUDGET_SECONDS = 30.0
"""Time the timed rounds may take, judged from the warm-up steps: fewer rounds (at least one) when
steps are slow, so calibration stays a small part of a run (and a cache hit costs nothing)."""

LEVERS = ("channels_last", "gemm_convs")
"""The levers calibration decides when the recipe leaves them unset (``train.<lever>``)."""

LOSS_TOLERANCE = {"no": 1e-3, "bf16": 5e-2, "fp16": 5e-2}
"""Largest relative difference of a candidate's first-step losses from the plain layout's, by precision."""


@dataclass(frozen=True)
class Calibration:
    """What calibration chose and why.

    ``seconds``: median seconds per step of each candidate (by :meth:`SpeedPlan.describe`);
    ``rejected``: candidates left out, with the reason; ``source``: ``measured``, or where the
    choice came from (``cache FILE``, ``run folder``); ``took``: seconds the measurement took.
    """

    plan: SpeedPlan
    seconds: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    source: str = "measured"
    took: float = 0.0

    def summary(self) -> str:
        """One line for the run log."""
        if self.source != "measured":
            return f"speed calibration: {self.plan.describe()} (from {self.source})"
        best = self.seconds.get(self.plan.describe())
        plain = next(iter(self.seconds.values()), None)
        gain = f", {plain / best:.2f}x the plain layout" if best and plain else ""
        timed = "; ".join(f"{name}: {s * 1e3:.0f} ms" for name, s in self.seconds.items())
        rejected = "".join(f"; rejected {name}: {why}" for name, why in self.rejected.items())
        return (f"speed calibration ({self.took:.1f} s): kept {self.plan.describe()}{gain} "
                f"[{timed}{rejected}]")

    def to_json(self) -> dict[str, Any]:
        """The record kept in the cache and in ``environment.json``."""
        return {"levers": {name: getattr(self.plan, name) for name in LEVERS},
                "seconds": self.seconds, "rejected": self.rejected, "source": self.source,
                "took": round(self.took, 3)}


def free_levers(train: Any, device_type: str) -> list[str]:
    """The levers ``train`` (a ``TrainSpec``) leaves to calibration on ``device_type``: none unless
    the run is fast, calibrated and on the CPU."""
    if train.speed != "fast" or not train.calibrate or device_type != "cpu":
        return []
    return [name for name in LEVERS if getattr(train, name) is None]


def candidate_plans(base: SpeedPlan, levers: Sequence[str]) -> list[SpeedPlan]:
    """Every combination of ``levers`` on ``base``; the first has them all off (the plain layout)."""
    plans = [base]
    for name in levers:
        plans = [dataclasses.replace(p, **{name: value}) for value in (False, True) for p in plans]
    unique: list[SpeedPlan] = []
    for plan in plans:
        if plan not in unique:
            unique.append(plan)
    return unique


def apply_layout(method: Any, plan: SpeedPlan) -> None:
    """Give ``method``'s networks ``plan``'s convolution route (CPU layout levers; in place)."""
    for net in method.networks.values():
        if plan.gemm_convs:
            use_gemm_convolutions(net)
        else:
            use_library_convolutions(net)


def recorded_levers(environment: Mapping[str, Any]) -> dict[str, bool] | None:
    """The calibrated levers an earlier start of the run recorded in ``environment.json``, or None."""
    speed = environment.get("speed")
    if not isinstance(speed, dict) or not isinstance(speed.get("levers"), dict):
        return None
    levers = speed["levers"]
    if not all(isinstance(levers.get(name), bool) for name in LEVERS):
        return None
    return {name: levers[name] for name in LEVERS}


@dataclass(frozen=True)
class Timing:
    """How candidates are timed: up to ``rounds`` timed steps each (fewer when the warm-up steps say
    they would take longer than ``budget`` seconds), read on ``timer`` after ``sync()`` (CUDA's queue);
    ``agree(n)`` gives every process the main one's round count."""

    rounds: int = ROUNDS
    budget: float = BUDGET_SECONDS
    timer: Callable[[], float] = time.perf_counter
    sync: Callable[[], None] = lambda: None
    agree: Callable[[int], int] = lambda n: n


def measure(plans: Sequence[SpeedPlan], run_step: Callable[[SpeedPlan], Mapping[str, Any]], *,
            apply: Callable[[SpeedPlan], None], kept: Callable[[], Any] = contextlib.nullcontext,
            tolerance: float | None = None, timing: Timing = Timing()) -> Calibration:
    """Time ``run_step`` under each plan and keep the fastest whose losses agree with the first plan's.

    ``run_step(plan)`` does one training step with the batch in ``plan``'s layout and returns its
    losses; ``apply(plan)`` switches the networks to ``plan``; ``kept()`` puts the training state back
    on exit (:func:`.sampling.steps_undone`). Each plan gets one warm-up step from the same state and
    RNG (its losses must agree with the first plan's within ``tolerance``, relative; default: the
    :data:`LOSS_TOLERANCE` of the plans' precision), then timed steps, the plans
    taking turns (``timing``). The state is put back at the end; the networks stay on the chosen plan.
    """
    if not plans:
        raise ValueError("no speed plans to calibrate")
    timer, sync = timing.timer, timing.sync
    if tolerance is None:
        tolerance = LOSS_TOLERANCE.get(plans[0].precision, max(LOSS_TOLERANCE.values()))
    start = timer()
    first_losses: dict[SpeedPlan, dict[str, float]] = {}
    rejected: dict[str, str] = {}
    warm_up = 0.0
    for plan in plans:
        with kept():
            apply(plan)
            sync()
            t0 = timer()
            first_losses[plan] = _floats(run_step(plan))
            sync()
            warm_up += timer() - t0
    rounds = timing.agree(max(1, min(timing.rounds, int(timing.budget // max(warm_up, 1e-9)))))
    reference = first_losses[plans[0]]
    usable = [plans[0]]
    for plan in plans[1:]:
        why = _disagreement(reference, first_losses[plan], tolerance)
        if why:
            rejected[plan.describe()] = why
        else:
            usable.append(plan)
    samples: dict[SpeedPlan, list[float]] = {plan: [] for plan in usable}
    with kept():
        for _ in range(rounds):
            for plan in usable:
                apply(plan)
                sync()
                t0 = timer()
                run_step(plan)
                sync()
                samples[plan].append(timer() - t0)
    medians = {plan: statistics.median(s) for plan, s in samples.items()}
    best = min(usable, key=lambda plan: (medians[plan], usable.index(plan)))
    apply(best)
    return Calibration(best, seconds={p.describe(): medians[p] for p in usable}, rejected=rejected,
                       took=timer() - start)


def choose(run: Any, *, resumed: bool) -> Calibration | None:
    """The calibrated plan of a training run, with the networks switched to it; None when nothing is
    left to calibrate (reference speed, ``train.calibrate = false``, every lever set, a GPU) or a
    resumed run recorded no choice (it keeps the preset it was trained with).

    ``run`` is the engine's ``TrainingRun`` after its loader is made: this reads its ``recipe``,
    ``accelerator``, ``built``, ``plan`` and ``run_dir``, and calls ``run.calibration_batch()`` and
    ``run.calibration_step(batch, plan)``. Every process measures in lockstep (the steps of a
    data-parallel run communicate); the main process's timings decide for all.
    """
    accelerator, built = run.accelerator, run.built
    levers = free_levers(run.recipe.train, accelerator.device.type)
    if not levers:
        return None
    base: SpeedPlan = run.plan
    if resumed:
        recorded = recorded_levers(read_run_json(Path(run.run_dir) / ENVIRONMENT_FILE) or {})
        if recorded is None:
            return None
        chosen = Calibration(dataclasses.replace(base, **{name: recorded[name] for name in levers}),
                             source=f"{Path(run.run_dir) / ENVIRONMENT_FILE}, as the run was trained")
        apply_layout(built.method, chosen.plan)
        return chosen
    batch = run.calibration_batch()
    key = calibration_cache.cache_key(base, levers, built, batch, accelerator.num_processes)
    cached = _from_main(accelerator, _from_cache(key, base) if accelerator.is_main_process else None)
    if cached is not None:
        apply_layout(built.method, cached.plan)
        return cached
    plans = candidate_plans(base, levers)
    accelerator.print(f"speed: timing {len(plans)} layouts of the fast plan on the first batch, a few steps each "
                      "(cached for this machine and configuration; train.calibrate = false skips this)")
    modules = state_modules(built.method, built.losses.values())
    measured = measure(
        plans, lambda plan: run.calibration_step(batch, plan),
        apply=lambda plan: apply_layout(built.method, plan),
        kept=lambda: steps_undone(modules, built.method.optimizers, built.method, accelerator),
        timing=Timing(sync=_synchronizer(accelerator.device), agree=lambda n: int(_from_main(accelerator, n))))
    measured = _from_main(accelerator, measured if accelerator.is_main_process else None)
    assert measured is not None
    apply_layout(built.method, measured.plan)
    if accelerator.is_main_process:
        calibration_cache.write(key, measured.to_json())
    return measured


def _from_cache(key: Mapping[str, Any], base: SpeedPlan) -> Calibration | None:
    found = calibration_cache.read(key)
    if found is None:
        return None
    record, path = found
    return Calibration(dataclasses.replace(base, **record["levers"]), seconds=record["seconds"],
                       source=f"cache {path}")


def _from_main(accelerator: Any, value: Any) -> Any:
    """The main process's ``value`` on every process (a collective call when there are several)."""
    if accelerator.num_processes <= 1:
        return value
    from accelerate.utils import broadcast_object_list

    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def _synchronizer(device: Any) -> Callable[[], None]:
    if getattr(device, "type", None) == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def _floats(losses: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for name, value in dict(losses or {}).items():
        try:
            out[name] = float(value.detach().float().item() if isinstance(value, torch.Tensor) else value)
        except (TypeError, ValueError, RuntimeError):
            continue
    return out


def _disagreement(reference: Mapping[str, float], losses: Mapping[str, float], tolerance: float) -> str:
    """Why ``losses`` disagree with ``reference`` beyond ``tolerance`` (relative), or ''."""
    for name, want in reference.items():
        got = losses.get(name)
        if got is None:
            return f"no loss {name!r}"
        if not (abs(got - want) <= tolerance * max(abs(want), 1e-6)):
            return f"loss {name} = {got:.6g} where the plain layout gives {want:.6g} (tolerance {tolerance:g} relative)"
    return ""


__all__ = ["BUDGET_SECONDS", "Calibration", "LEVERS", "LOSS_TOLERANCE", "ROUNDS", "Timing", "apply_layout", "candidate_plans",
           "choose", "free_levers", "measure", "recorded_levers"]

"""The GPU check: one command that exercises and measures translate's CUDA path, with a JSON record.

Nothing of the CUDA path had run while translate was built (no GPU was available). Whoever has a CUDA GPU runs

    python benchmarks/gpu_check.py --json gpu_check.json

(a few minutes on one GPU; the parts stop at ``--budget`` seconds, 450 by default) and puts the JSON in the docs.
The parts, each recorded with a status (passed, failed, error or skipped) so that one failing part does not stop
the others:

1. ``train_speed``: one pix2pix step (recipes/pix2pix_edges2shoes.toml) and one CycleGAN step
   (recipes/cyclegan_horse2zebra.toml), the real methods built through the engine's own set-up functions,
   on random 256x256 batches of 1, with ``train.speed = "reference"`` and ``"fast"`` (bf16 autocast,
   channels_last, torch.compile when the plan asks for it: ``--fast-set train.compile=default``):
   seconds per step, their ratio, finite losses. Nothing about speed is asserted.
2. ``cpu_agreement``: the same initial weights and batch, one fp32 reference step on the CPU and one on the
   GPU (TF32 off for the comparison, then once more with torch's default TF32 settings, for information):
   the largest differences of the losses, gradients and parameters, against the tolerances in ``TOLERANCE``.
3. ``fp16``: pix2pix steps with ``train.mixed_precision = "fp16"`` (Accelerate's GradScaler): finite losses
   and the scaler's scale after each step.
4. ``memory``: the peak of ``torch.cuda.max_memory_allocated`` for each configuration (reset before each).
5. ``inference``: images/s of the pix2pix generator (random weights) through ``translate.load(model,
   device="cuda")``, with and without ``fast=True``, and through ONNX Runtime's CUDA provider when the
   installed ``onnxruntime`` has it (else recorded as not available).
6. ``gpu_tests``: ``python -m pytest -m gpu -q`` in a subprocess; its summary line.

Each configuration runs in its own process (Accelerate keeps one precision per process, and a CUDA error
poisons the process that met it). The exit status is 0 only when no part failed or raised.

``--dry`` runs the same code on the CPU in seconds (32x32 images, 8-filter networks, one step; fp16 and the
CUDA provider skipped, the gpu tests only collected), so that the script cannot rot without a GPU:

    python benchmarks/gpu_check.py --dry --json gpu_check_dry.json
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "pix2pix": ROOT / "recipes" / "pix2pix_edges2shoes.toml",
    "cyclegan": ROOT / "recipes" / "cyclegan_horse2zebra.toml",
}
METHODS = ("pix2pix", "cyclegan")
PARTS = ("train_speed", "cpu_agreement", "fp16", "memory", "inference", "gpu_tests")
DRY_SETS = {
    # unet_256 needs sides that are multiples of 256: the same U-Net with 5 downsamplings takes 32x32
    "pix2pix": ['generator.name="unet"', "generator.options.num_downs=5", "generator.options.ngf=8",
                "discriminator.options.ndf=8"],
    "cyclegan": ["generator.options.ngf=8", "discriminator.options.ndf=8"],
}
"""Recipe overrides of ``--dry``: small networks for small images."""
AGREEMENT_SETS = {"pix2pix": ["generator.options.dropout=0.0"], "cyclegan": []}
"""Overrides of the agreement check: no dropout (the CPU and the GPU draw different masks from one seed)."""
TOLERANCE = {"loss_rel": 1e-3, "grad_rel_l2": 2e-2, "grad_agree": 0.1, "update_in_lr": 0.125}
"""The CPU/GPU agreement of one fp32 step (TF32 off). ``loss_rel``: the largest relative difference of a loss.
``grad_rel_l2``: the largest ``|g_gpu - g_cpu| / |g_cpu|`` (L2 norms over a network's gradients). Parameters:
Adam's first step moves an element by ``lr * g / (|g| + eps)``, about ``lr`` in the direction of its gradient's
sign however small the gradient, so where a gradient is rounding noise (a convolution bias that a normalisation
follows has a gradient of exactly 0 in exact arithmetic) the two devices may move it apart by up to ``2 lr``;
the largest difference is reported, and checked only where the devices agree on the gradient to
``grad_agree`` (10%): there the updates cannot differ by more than ``lr / 9``, and ``update_in_lr`` allows
``lr / 8``. Measured between two correct fp32 routes on the CPU (contiguous against channels_last activations
or convolutions as GEMMs, 256x256, the recipes' networks): losses within 4.6e-5, gradients within 4.6e-3
(CycleGAN; 1.2e-3 pix2pix), updates within 0.026 lr on 97.6% and more of the elements."""
RESULT = "GPU_CHECK_RESULT "
"""The prefix of a worker's result line on its stdout."""


# ----------------------------------------------------------------------------------------- worker side

def _sync(device: Any) -> None:
    """Wait for the GPU (a no-op on the CPU), so that a timer measures the work, not its launch."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: Any) -> None:
    """Release what the previous configuration left, and restart the CUDA peak from what remains."""
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_mb(device: Any) -> float:
    """The CUDA allocator's peak since the last reset, or this process's peak RSS on the CPU (MB)."""
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _memory_kind(device: Any) -> str:
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated, reset before each configuration"
    return "process peak RSS on the CPU (not reset between the configurations of one process)"


def _finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())


class RandomImages:
    """Stands in for a training set where the engine's build reads one: its channels and its DataInfo."""

    def __init__(self, size: int) -> None:
        from translate.data.contract import DataInfo

        self.channels = {"input": 3, "target": 3, "A": 3, "B": 3}
        self.info = DataInfo(image_size=size)


class Trainee:
    """A recipe's method set up as ``translate train`` sets it up (the engine's recipe loading, precision check,
    Accelerator, build with its size checks, speed plan and prepare), stepped on a fixed random batch.

    ``twins``: copies of the method made before ``prepare`` (on the CPU, same weights and optimizer settings),
    with their own losses, for the agreement check.
    """

    def __init__(self, name: str, overrides: list[str], settings: dict[str, Any], twins: int = 0) -> None:
        import torch
        from accelerate.utils import set_seed

        from translate.engine import speed
        from translate.engine.setup import build_method, check_precision, make_accelerator, prepare
        from translate.plugin.loading import get_registry
        from translate.recipe import load_recipe

        registry = get_registry()
        sets = [f"data.batch_size={settings['batch']}", *(DRY_SETS[name] if settings["dry"] else [])]
        sets += ["train.cpu=true"] if settings["dry"] else []
        source = f"{RECIPES[name].name} (benchmarks/gpu_check.py)"
        self.recipe, _ = load_recipe(RECIPES[name], [*sets, *overrides], registry)
        check_precision(self.recipe, source)
        self.accelerator = make_accelerator(self.recipe)
        self.device = self.accelerator.device
        set_seed(self.recipe.seed)
        self.built = build_method(self.recipe, registry, RandomImages(settings["size"]), source)
        self.method = self.built.method
        self.twins: list[tuple[Any, dict[str, Any]]] = [copy.deepcopy((self.method, self.built.losses))
                                                        for _ in range(twins)]
        self.plan = speed.resolve_speed(self.recipe.train, self.device.type)
        speed.before_prepare(self.method, self.plan)
        prepare(self.accelerator, self.built)
        speed.after_prepare(self.method, self.plan)
        size, batch = settings["size"], settings["batch"]
        g = torch.Generator().manual_seed(self.recipe.seed + 1)
        self.cpu_batch = {k: torch.rand(batch, 3, size, size, generator=g) * 2 - 1 for k in self.method.data_keys}
        self.batch = speed.format_batch({k: v.to(self.device) for k, v in self.cpu_batch.items()}, self.plan)
        self.steps_done = 0

    def step(self) -> tuple[float, dict[str, float]]:
        """One train step as the trainer runs it; its seconds and its losses."""
        from translate.components.method import StepContext

        _sync(self.device)
        start = time.perf_counter()
        with self.accelerator.accumulate(*self.method.networks.values()):
            losses = self.method.train_step(self.batch, StepContext(self.accelerator, self.steps_done, 0))
        _sync(self.device)
        seconds = time.perf_counter() - start
        self.steps_done += 1
        return seconds, {k: float(v) for k, v in losses.items()}

    def close(self) -> None:
        """Drop the Accelerator's references to the prepared networks and optimizers, so that their memory is
        freed before the next configuration (its CUDA peak must not include this one's)."""
        self.accelerator.free_memory()
        del self.method, self.built, self.batch
        self.twins = []


def job_train_speed(settings: dict[str, Any], speed_name: str) -> dict[str, Any]:
    """Both methods with ``train.speed = speed_name``: step times, losses, plan and peak memory."""
    overrides = [f'train.speed="{speed_name}"', *(settings["fast_set"] if speed_name == "fast" else [])]
    out: dict[str, Any] = {}
    for name in METHODS:
        trainee = Trainee(name, overrides, settings)
        first = [trainee.step()[0] for _ in range(settings["warmup"])]
        times, losses = [], {}
        for _ in range(settings["steps"]):
            seconds, losses = trainee.step()
            times.append(seconds)
        device = trainee.device
        out[name] = {"plan": trainee.plan.describe(), "device": str(device), "first_steps_s": first,
                     "step_s": times, "median_s": statistics.median(times), "losses": losses,
                     "losses_finite": _finite(losses), "peak_memory_mb": _peak_mb(device)}
        out["memory_kind"] = _memory_kind(device)
        trainee.close()
        _free(device)
    return out


def _tf32(strict: bool | None) -> dict[str, Any]:
    """Set (True: IEEE fp32 only; False: TF32 allowed; None: leave) and report the TF32 switches of
    cuDNN convolutions and CUDA matmuls. torch 2.9 and later: the ``fp32_precision`` switches only (mixing
    them with the older ``allow_tf32`` ones is an error there)."""
    import torch

    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        if strict is not None:
            conv.fp32_precision = "ieee" if strict else "tf32"
            torch.backends.cuda.matmul.fp32_precision = "ieee" if strict else "tf32"
        return {"cudnn_conv": conv.fp32_precision, "cuda_matmul": torch.backends.cuda.matmul.fp32_precision}
    if strict is not None:
        torch.backends.cudnn.allow_tf32 = not strict
        torch.backends.cuda.matmul.allow_tf32 = not strict
    return {"cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda_matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def _restore_tf32(saved: dict[str, Any]) -> None:
    """Put back the switches :func:`_tf32` reported."""
    import torch

    if "cudnn_conv" in saved:
        torch.backends.cudnn.conv.fp32_precision = saved["cudnn_conv"]
        torch.backends.cuda.matmul.fp32_precision = saved["cuda_matmul"]
    else:
        torch.backends.cudnn.allow_tf32 = saved["cudnn_allow_tf32"]
        torch.backends.cuda.matmul.allow_tf32 = saved["cuda_matmul_allow_tf32"]


def _plain_step(method: Any, batch: dict[str, Any], accelerator: Any) -> dict[str, float]:
    """One train step of a twin (not prepared: its own device, no Accelerate wrappers); its losses."""
    from translate.components.method import StepContext

    return {k: float(v) for k, v in method.train_step(batch, StepContext(accelerator, 0, 0)).items()}


def _compare(reference: Any, ref_losses: dict[str, float], other: Any, losses: dict[str, float],
             lr: float) -> dict[str, Any]:
    """The differences between two methods after one step from the same state (losses, gradients, parameters,
    buffers), and whether they are within ``TOLERANCE``."""
    from translate.components.method import unwrap

    loss_rel = {k: abs(losses[k] - v) / max(abs(v), 1e-12) for k, v in ref_losses.items()}
    grad_l2: dict[str, float] = {}
    grad_max: dict[str, float] = {}
    param_abs: dict[str, float] = {}
    buffer_abs: dict[str, float] = {}
    update_diff, checked, elements = 0.0, 0, 0
    for name, net in reference.networks.items():
        mine = dict(unwrap(other.networks[name]).named_parameters())
        diff_sq, norm_sq, top, worst = 0.0, 0.0, 0.0, 0.0
        for key, p in net.named_parameters():
            q = mine[key]
            diff = (q.detach().float().cpu() - p.detach().float()).abs()
            param_abs[f"{name}.{key}"] = float(diff.max()) if diff.numel() else 0.0
            elements += diff.numel()
            if p.grad is None or q.grad is None:
                continue
            g, dg = p.grad.float(), (q.grad.float().cpu() - p.grad.float()).abs()
            diff_sq, norm_sq = diff_sq + float((dg**2).sum()), norm_sq + float((g**2).sum())
            top, worst = max(top, float(g.abs().max())), max(worst, float(dg.max()))
            clear = dg <= TOLERANCE["grad_agree"] * g.abs()  # the devices agree on this element's gradient
            checked += int(clear.sum())
            if bool(clear.any()):
                update_diff = max(update_diff, float(diff[clear].max()))
        grad_l2[name] = math.sqrt(diff_sq / norm_sq) if norm_sq > 0 else math.sqrt(diff_sq)
        grad_max[name] = worst / top if top > 0 else worst
        theirs = dict(unwrap(other.networks[name]).named_buffers())
        for key, b in net.named_buffers():
            if b.is_floating_point():
                buffer_abs[f"{name}.{key}"] = float((theirs[key].float().cpu() - b.float()).abs().max())
    worst_param = max(param_abs, key=lambda k: param_abs[k]) if param_abs else None
    result = {
        "losses": {"reference": ref_losses, "device": losses},
        "loss_max_rel_diff": max(loss_rel.values(), default=0.0),
        "grad_rel_l2": grad_l2,
        "grad_max_rel_l2": max(grad_l2.values(), default=0.0),
        "grad_max_elem_diff_over_max_grad": grad_max,
        "param_max_abs_diff": param_abs[worst_param] if worst_param else 0.0,
        "param_max_abs_diff_in_lr": param_abs[worst_param] / lr if worst_param else 0.0,
        "param_worst_tensor": worst_param,
        "param_update_max_diff_in_lr": update_diff / lr,
        "param_elements_checked": checked / max(elements, 1),
        "buffer_max_abs_diff": max(buffer_abs.values(), default=0.0),
        "losses_finite": _finite(losses) and _finite(ref_losses),
    }
    result["within_tolerance"] = bool(
        result["losses_finite"] and result["loss_max_rel_diff"] <= TOLERANCE["loss_rel"]
        and result["grad_max_rel_l2"] <= TOLERANCE["grad_rel_l2"]
        and result["param_update_max_diff_in_lr"] <= TOLERANCE["update_in_lr"])
    return result


def job_cpu_agreement(settings: dict[str, Any]) -> dict[str, Any]:
    """For each method: one fp32 reference step on the CPU and one on the run's device, from the same weights
    and batch, compared; on CUDA TF32 is off for that comparison, then a third copy steps with torch's default
    TF32 switches (information, not checked)."""
    from translate.engine.loss_device import place_losses

    defaults = _tf32(None)
    out: dict[str, Any] = {"tf32_defaults": defaults}
    try:
        strict = _tf32(True)
        for name in METHODS:
            trainee = Trainee(name, ['train.speed="reference"', *AGREEMENT_SETS[name]], settings, twins=2)
            (cpu_method, _), (tf32_method, tf32_losses) = trainee.twins
            lr = max(g["lr"] for opt in cpu_method.optimizers.values() for g in opt.param_groups)
            ref_losses = _plain_step(cpu_method, trainee.cpu_batch, trainee.accelerator)
            _, losses = trainee.step()
            entry = {"device": str(trainee.device), "plan": trainee.plan.describe(), "tf32": strict,
                     **_compare(cpu_method, ref_losses, trainee.method, losses, lr)}
            if trainee.device.type == "cuda":
                _restore_tf32(defaults)
                for net in tf32_method.networks.values():
                    net.to(trainee.device)
                place_losses(tf32_losses, trainee.device)
                batch = {k: v.to(trainee.device) for k, v in trainee.cpu_batch.items()}
                tf32_step = _plain_step(tf32_method, batch, trainee.accelerator)
                tf32 = _compare(cpu_method, ref_losses, tf32_method, tf32_step, lr)
                entry["default_tf32"] = {"switches": defaults, **{k: v for k, v in tf32.items() if k != "losses"}}
                _tf32(True)
            out[name] = entry
            trainee.close()
            del cpu_method, tf32_method, tf32_losses
            _free(trainee.device)
    finally:
        _restore_tf32(defaults)
    return out


def job_fp16(settings: dict[str, Any]) -> dict[str, Any]:
    """pix2pix steps with ``train.mixed_precision = "fp16"``: losses, the GradScaler's scale, skipped updates.

    A skipped update shows as a drop of the scale (GradScaler halves it when it finds inf or NaN gradients).
    Accelerate's ``optimizer_step_was_skipped`` is recorded beside it, but it cannot see the skips of a fused
    optimizer (translate's Adam): GradScaler then calls ``step`` anyway and the fused kernel skips the update
    itself, while Accelerate counts a call of ``step`` as an update made."""
    trainee = Trainee("pix2pix", ['train.mixed_precision="fp16"'], settings)
    scaler = trainee.accelerator.scaler
    scale = float(scaler.get_scale()) if scaler is not None else None
    out: dict[str, Any] = {"plan": trainee.plan.describe(), "device": str(trainee.device),
                           "scaler": type(scaler).__name__ if scaler is not None else None,
                           "initial_scale": scale, "steps": []}
    for _ in range(settings["warmup"] + settings["steps"]):
        seconds, losses = trainee.step()
        before, scale = scale, float(scaler.get_scale()) if scaler is not None else None
        out["steps"].append({"s": seconds, "losses": losses, "losses_finite": _finite(losses), "scale": scale,
                             "scale_dropped": before is not None and scale is not None and scale < before,
                             "accelerate_reports_skipped": bool(trainee.accelerator.optimizer_step_was_skipped)})
    out["peak_memory_mb"] = _peak_mb(trainee.device)
    out["memory_kind"] = _memory_kind(trainee.device)
    return out


def _per_call(run: Callable[[], Any], warmup: int, min_seconds: float, min_calls: int) -> tuple[float, int]:
    """Seconds per call after ``warmup`` untimed calls: at least ``min_calls`` calls and ``min_seconds``."""
    for _ in range(warmup):
        run()
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        run()
        calls += 1
    return (time.perf_counter() - start) / calls, calls


def _generator_model(settings: dict[str, Any], folder: Path) -> tuple[Any, Any]:
    """The recipe's pix2pix generator with random weights (BatchNorm statistics calibrated on random images,
    so that outputs spread as a trained network's do), written as a model file; the module and its recipe."""
    import torch

    from translate.components.build import BuildContext
    from translate.components.method import ExportSpec
    from translate.models import save_model
    from translate.plugin.loading import get_registry
    from translate.recipe import load_recipe

    registry = get_registry()
    recipe, _ = load_recipe(RECIPES["pix2pix"], DRY_SETS["pix2pix"] if settings["dry"] else [], registry)
    torch.manual_seed(recipe.seed)
    ctx = BuildContext(recipe=recipe, registry=registry, channels={})
    net = ctx.generator(in_channels=3, out_channels=3)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.momentum = None  # a cumulative average over the calibration batch
        m.reset_running_stats()
    if norms:
        net.train()
        with torch.no_grad():
            net(torch.rand(2, 3, settings["size"], settings["size"]) * 2 - 1)
    net.eval()
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / "model.safetensors", method="pix2pix",
               exports=[(ExportSpec("G", "G", test_mode="eval"), net, ctx.record_of(net))])
    return net, recipe


def job_inference(settings: dict[str, Any]) -> dict[str, Any]:
    """images/s of the pix2pix generator through ``translate.load`` (fp32 and ``fast=True``) and through ONNX
    Runtime's CUDA provider when there is one."""
    import numpy as np
    import torch

    import translate
    from translate.inference.fast import FAST_TOLERANCE
    from translate.nn.precision import native_bf16

    device = torch.device("cpu" if settings["dry"] else "cuda")
    size, timing = settings["size"], settings["inference"]
    out: dict[str, Any] = {"device": str(device), "size": size, "memory_kind": _memory_kind(device),
                           "input": "one (1, 3, H, W) float32 tensor on the CPU per call: copies to and from the "
                                    "device included, as for ONNX Runtime's numpy input"}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")  # an ONNX export goes here, not to ~/.cache
        net, _ = _generator_model(settings, Path(tmp) / "model")
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
        outputs, loaded = {}, None
        for variant, fast in (("torch", False), ("torch_fast", True)):
            loaded = None  # the previous variant's model, on the device, goes before the peak restarts
            _free(device)
            pipe = translate.load(Path(tmp) / "model", device=str(device), mode="eval", fast=fast)
            seconds, calls = _per_call(partial(pipe, x), *timing)
            outputs[variant] = pipe(x)
            out[variant] = {"images_per_s": 1 / seconds, "ms_per_image": 1000 * seconds, "calls": calls,
                            "peak_memory_mb": _peak_mb(device)}
            loaded = pipe.loaded
            del pipe
        precision = "bf16" if native_bf16(device.type) else "fp32"
        diff = float((outputs["torch_fast"] - outputs["torch"]).abs().max())
        out["torch_fast"].update(weights=precision, max_abs_diff_vs_fp32=diff, tolerance=FAST_TOLERANCE[precision],
                                 within_tolerance=diff <= FAST_TOLERANCE[precision])
        out["outputs_finite"] = all(bool(torch.isfinite(o).all()) for o in outputs.values())
        try:
            out["onnx_cuda"] = _onnx_cuda(settings, loaded, net, x, np, timing)
        except Exception as err:  # noqa: BLE001 - recorded; the PyTorch figures stand
            out["onnx_cuda"] = {"status": "error", "error": f"{type(err).__name__}: {err}",
                                "details": traceback.format_exc()[-3000:]}
    return out


def _onnx_cuda(settings: dict[str, Any], loaded: Any, net: Any, x: Any, np: Any,
               timing: tuple[int, float, int]) -> dict[str, Any]:
    """ONNX Runtime with its CUDA provider on the generator's ONNX file (translate's own ONNX backend runs
    on the CPU only), or why it was not run."""
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        return {"status": "not available", "reason": "onnxruntime is not installed"}
    providers = ort.get_available_providers()
    if settings["dry"]:
        return {"status": "skipped", "reason": "no CUDA (--dry)", "providers": providers}
    if "CUDAExecutionProvider" not in providers:
        return {"status": "not available", "reason": "this onnxruntime has no CUDAExecutionProvider (install "
                                                     "onnxruntime-gpu)", "providers": providers}
    from translate.inference.onnx_backend import onnx_file

    path = onnx_file(loaded, loaded.names[0])  # exported and checked against PyTorch on the CPU
    session = ort.InferenceSession(str(path), providers=["CUDAExecutionProvider"])
    active = session.get_providers()
    if not active or active[0] != "CUDAExecutionProvider":
        return {"status": "not available", "reason": f"the session fell back to {active}", "providers": providers}
    name, array = session.get_inputs()[0].name, x.numpy()
    seconds, calls = _per_call(partial(session.run, None, {name: array}), *timing)
    (result,) = session.run(None, {name: array})
    with torch.no_grad():
        expected = net(x).numpy()
    return {"status": "measured", "providers": active, "images_per_s": 1 / seconds, "ms_per_image": 1000 * seconds,
            "calls": calls, "max_abs_diff_vs_torch_cpu_fp32": float(np.abs(result - expected).max()),
            "outputs_finite": bool(np.isfinite(result).all())}


JOBS: dict[str, Callable[..., dict[str, Any]]] = {
    "train_speed": job_train_speed, "cpu_agreement": job_cpu_agreement, "fp16": job_fp16, "inference": job_inference,
}


def serve(spec: str) -> int:
    """Worker: run one job, write its result (or its error) as one line on stdout."""
    job, settings, args = json.loads(spec)
    out, sys.stdout = sys.stdout, sys.stderr  # whatever the engine prints stays out of the result line
    try:
        result, code = JOBS[job](settings, *args), 0
    except BaseException as err:  # noqa: BLE001 - the parent records it
        result, code = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-4000:]}, 1
    out.write(RESULT + json.dumps(result) + "\n")
    out.flush()
    return code


# ----------------------------------------------------------------------------------------- parent side

class WorkerFailed(RuntimeError):
    """A worker raised, crashed or ran out of time; ``details`` holds its traceback or output."""

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


class Budget:
    """The seconds left for the whole check: no subprocess is given more than what remains."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        remaining = self.end - time.monotonic()
        if remaining < 5:
            raise WorkerFailed("out of time: the check's --budget was spent before this part")
        return min(cap, remaining)


def run_worker(job: str, settings: dict[str, Any], budget: Budget, cap: float, *args: Any) -> dict[str, Any]:
    """Run ``job`` in a fresh process; its result, or :class:`WorkerFailed`."""
    timeout = budget.left(cap)
    spec = json.dumps([job, settings, list(args)])
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", spec], check=False,
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              env={**os.environ, "TQDM_DISABLE": "1"})
    except subprocess.TimeoutExpired as err:
        tail = err.stderr if isinstance(err.stderr, str) else (err.stderr or b"").decode(errors="replace")
        raise WorkerFailed(f"{job} did not finish in {timeout:.0f} s", tail[-3000:]) from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT)]
    if not lines:
        raise WorkerFailed(f"{job} ended with status {proc.returncode} and no result", proc.stderr[-3000:])
    result = json.loads(lines[-1][len(RESULT):])
    if "error" in result:
        raise WorkerFailed(f"{job}: {result['error']}", result.get("traceback", ""))
    return result


def _error(err: BaseException) -> dict[str, Any]:
    """A part's record for an exception."""
    details = err.details if isinstance(err, WorkerFailed) else traceback.format_exc()[-3000:]
    return {"status": "error", "error": str(err) or type(err).__name__, "details": details}


def part_train_speed(settings: dict[str, Any], budget: Budget, memory: dict[str, Any]) -> dict[str, Any]:
    """Part 1: reference vs fast, one worker per speed (Accelerate's precision is per process)."""
    sides: dict[str, Any] = {}
    for speed_name in ("reference", "fast"):
        try:
            sides[speed_name] = run_worker("train_speed", settings, budget, 300, speed_name)
        except WorkerFailed as err:
            sides[speed_name] = _error(err)
    out: dict[str, Any] = {"batch": settings["batch"], "size": settings["size"], "warmup": settings["warmup"],
                           "steps": settings["steps"], "fast_set": settings["fast_set"]}
    problems, errors = [], []
    for speed_name, side in sides.items():
        if side.get("status") == "error":
            errors.append(f"{speed_name}: {side['error']}")
            out[f"{speed_name}_error"] = side
    for name in METHODS:
        entry: dict[str, Any] = {}
        for speed_name, side in sides.items():
            if name in side:
                entry[speed_name] = side[name]
                memory[f"train {name} {speed_name}"] = side[name]["peak_memory_mb"]
                memory["kind"] = side["memory_kind"]
                if not side[name]["losses_finite"]:
                    problems.append(f"{name} {speed_name}: non-finite losses {side[name]['losses']}")
                if not all(t > 0 for t in side[name]["step_s"]) or not side[name]["step_s"]:
                    problems.append(f"{name} {speed_name}: no positive step times")
            else:
                memory[f"train {name} {speed_name}"] = None
        if "reference" in entry and "fast" in entry:
            entry["fast_speedup"] = entry["reference"]["median_s"] / entry["fast"]["median_s"]
            if entry["reference"]["plan"] == entry["fast"]["plan"]:
                problems.append(f"{name}: the fast plan is the reference plan ({entry['fast']['plan']})")
        out[name] = entry
    status = "error" if errors else ("failed" if problems else "passed")
    return {"status": status, **({"error": "; ".join(errors)} if errors else {}), "problems": problems, **out}


def part_cpu_agreement(settings: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Part 2: one fp32 step on the CPU and on the device, compared."""
    result = run_worker("cpu_agreement", settings, budget, 300)
    problems = [f"{name}: outside the tolerances (losses {result[name]['loss_max_rel_diff']:.2g}, gradients "
                f"{result[name]['grad_max_rel_l2']:.2g}, updates {result[name]['param_update_max_diff_in_lr']:.2g} lr)"
                for name in METHODS if not result[name]["within_tolerance"]]
    return {"status": "failed" if problems else "passed", "problems": problems, "tolerance": TOLERANCE,
            "compared": "the CPU" + (" with itself (--dry)" if settings["dry"] else " with CUDA"), **result}


def part_fp16(settings: dict[str, Any], budget: Budget, memory: dict[str, Any]) -> dict[str, Any]:
    """Part 3: fp16 with loss scaling (CUDA only)."""
    if settings["dry"]:
        return {"status": "skipped", "reason": "no CUDA (--dry): fp16 training needs a CUDA GPU"}
    memory["train pix2pix fp16"] = None
    result = run_worker("fp16", settings, budget, 300)
    memory["train pix2pix fp16"] = result["peak_memory_mb"]
    problems = []
    if result["scaler"] is None:
        problems.append("Accelerate made no GradScaler")
    bad = [i for i, s in enumerate(result["steps"]) if not s["losses_finite"]]
    if bad:
        problems.append(f"non-finite losses at steps {bad}")
    final = result["steps"][-1]["scale"] if result["steps"] else None
    if final is not None and not (math.isfinite(final) and final > 0):
        problems.append(f"scale {final} after the last step")
    result["skipped_steps"] = sum(s["scale_dropped"] for s in result["steps"])
    return {"status": "failed" if problems else "passed", "problems": problems, **result}


def part_inference(settings: dict[str, Any], budget: Budget, memory: dict[str, Any]) -> dict[str, Any]:
    """Part 5: translate.load on the device, plain and fast, and ONNX Runtime's CUDA provider."""
    memory["inference torch"] = memory["inference torch_fast"] = None
    result = run_worker("inference", settings, budget, 300)
    for variant in ("torch", "torch_fast"):
        memory[f"inference {variant}"] = result[variant]["peak_memory_mb"]
    problems = []
    if not result["outputs_finite"]:
        problems.append("non-finite outputs")
    if not result["torch_fast"]["within_tolerance"]:
        problems.append(f"fast output {result['torch_fast']['max_abs_diff_vs_fp32']:.3g} from fp32, tolerance "
                        f"{result['torch_fast']['tolerance']}")
    onnx = result["onnx_cuda"]
    if onnx["status"] == "measured" and not onnx["outputs_finite"]:
        problems.append("non-finite ONNX Runtime CUDA outputs")
    if onnx["status"] == "error":
        problems.append(f"ONNX Runtime CUDA: {onnx['error']}")
    return {"status": "failed" if problems else "passed", "problems": problems, **result}


def part_memory(memory: dict[str, Any]) -> dict[str, Any]:
    """Part 4: the peaks the other parts recorded, per configuration."""
    kind = memory.pop("kind", None)
    missing = [k for k, v in memory.items() if v is None]
    if not memory:
        return {"status": "error", "error": "no configuration ran"}
    status = "failed" if missing else "passed"
    return {"status": status, "kind": kind, "peak_mb": memory,
            "problems": [f"not measured (its part failed): {', '.join(missing)}"] if missing else []}


def part_gpu_tests(settings: dict[str, Any], budget: Budget) -> dict[str, Any]:
    """Part 6: the tests marked ``gpu`` (run on CUDA; only collected with --dry)."""
    cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
    if settings["dry"]:  # collected from the files that use the marker: the same tests, in half the time
        cmd += ["--collect-only", *gpu_test_files()]
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, timeout=budget.left(420),
                              env={**os.environ, "TQDM_DISABLE": "1"})
    except subprocess.TimeoutExpired as err:
        raise WorkerFailed(f"pytest -m gpu did not finish in {err.timeout:.0f} s") from None
    lines = [line.strip() for line in proc.stdout.splitlines() if line.strip()]
    summary = next((line for line in reversed(lines) if re.search(r"\d+ (passed|failed|skipped|error|deselected)"
                                                                  r"|tests? collected|no tests ran", line)), "")
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", summary)}
    out: dict[str, Any] = {"command": " ".join(["python", *cmd[1:]]), "returncode": proc.returncode,
                           "summary": summary, "counts": counts}
    if settings["dry"]:
        found = re.search(r"(\d+)(?:/\d+)? tests? collected", summary)
        out["collected"] = int(found.group(1)) if found else 0
        ok = proc.returncode == 0 and out["collected"] > 0
    else:
        ok = proc.returncode == 0 and not counts.get("failed") and not counts.get("error", counts.get("errors"))
    if not ok:
        out["output_tail"] = (proc.stdout + proc.stderr)[-3000:]
    return {"status": "passed" if ok else "failed", **out}


def gpu_test_files() -> list[str]:
    """The test files that mention the ``gpu`` marker, relative to the repository."""
    return sorted(str(path.relative_to(ROOT)) for path in (ROOT / "tests").rglob("test_*.py")
                  if "mark.gpu" in path.read_text(encoding="utf-8", errors="replace"))


def describe(dry: bool) -> dict[str, Any]:
    """The device, the CPU and the versions the figures belong to (``--dry`` does not import torch here)."""
    from translate.engine.environment import cpu_summary
    from translate.version import __version__

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    out: dict[str, Any] = {"device": "cpu", "cpu": cpu_summary(), "python": platform.python_version(),
                           "torch": version("torch"), "translate": __version__, "accelerate": version("accelerate"),
                           "onnxruntime": version("onnxruntime") or version("onnxruntime-gpu")}
    if not dry:
        import torch

        props = torch.cuda.get_device_properties(0)
        out.update(device="cuda", torch=torch.__version__, cuda_build=torch.version.cuda, gpu=props.name,
                   gpu_memory_gib=round(props.total_memory / 2**30, 1), capability=f"{props.major}.{props.minor}",
                   cudnn=torch.backends.cudnn.version(), driver_cuda=_driver_cuda())
    return out


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _driver_cuda() -> str | None:
    """The CUDA version of the driver (``nvidia-smi``), when it answers."""
    try:
        text = subprocess.run(["nvidia-smi"], check=False, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return found.group(1) if found else None


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A short human summary of the report."""
    dev, parts = report["machine"], report["parts"]
    where = (f"GPU {dev['gpu']} ({dev['gpu_memory_gib']} GiB, capability {dev['capability']}), "
             f"CUDA {dev['cuda_build']} (driver {dev['driver_cuda']}), cuDNN {dev['cudnn']}"
             if dev["device"] == "cuda" else f"CPU {dev['cpu']}")
    dry = "; --dry: one cold step each, not figures" if report["dry"] else ""
    versions = (f"torch {dev['torch']}, translate {dev['translate']}, accelerate {dev['accelerate']}, "
                f"onnxruntime {dev['onnxruntime']}{dry}")
    lines = [f"device: {where}", versions]
    for name in PARTS:
        part = parts[name]
        status = part["status"]
        detail = part.get("error") or part.get("reason") or "; ".join(part.get("problems", []))
        detail = _passed_detail(name, part) if status == "passed" else " ".join(str(detail).split())
        lines.append(f"{name:>14}: {status.upper():7} {detail}")
    lines.append(f"{'ALL CHECKS PASSED' if report['passed'] else 'SOME CHECKS FAILED'} in {report['seconds']:.0f} s")
    return lines


def _passed_detail(name: str, part: dict[str, Any]) -> str:
    """The figures of a passed part, in one line."""
    if name == "train_speed":
        return "; ".join(f"{m} {part[m]['reference']['median_s'] * 1000:.1f} ms reference, "
                         f"{part[m]['fast']['median_s'] * 1000:.1f} ms fast ({part[m]['fast_speedup']:.2f}x)"
                         for m in METHODS)
    if name == "cpu_agreement":
        return "; ".join(f"{m} losses {part[m]['loss_max_rel_diff']:.1g}, grads {part[m]['grad_max_rel_l2']:.1g}, "
                         f"updates {part[m]['param_update_max_diff_in_lr']:.1g} lr (params max "
                         f"{part[m]['param_max_abs_diff']:.1g})" for m in METHODS)
    if name == "fp16":
        return f"scale {part['initial_scale']:g} -> {part['steps'][-1]['scale']:g}, {part['skipped_steps']} skipped"
    if name == "memory":
        return ", ".join(f"{k} {v:.0f} MB" for k, v in part["peak_mb"].items())
    if name == "inference":
        onnx = part["onnx_cuda"]
        tail = (f"{onnx['images_per_s']:.1f}" if onnx["status"] == "measured" else onnx["status"])
        return (f"{part['torch']['images_per_s']:.1f} img/s, fast {part['torch_fast']['images_per_s']:.1f} img/s, "
                f"ONNX Runtime CUDA {tail}")
    if name == "gpu_tests":
        return part["summary"]
    return ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="write the report to this file (atomically)")
    p.add_argument("--dry", action="store_true", help="run on the CPU with tiny images and networks, in seconds")
    p.add_argument("--size", type=int, help="image side (default 256; 32 with --dry)")
    p.add_argument("--steps", type=int, help="timed train steps per configuration (default 20; 1 with --dry)")
    p.add_argument("--warmup", type=int, help="untimed first steps (default 5; 0 with --dry)")
    p.add_argument("--fast-set", nargs="*", default=[],
                   help='extra recipe overrides of the fast side, e.g. train.compile="default"')
    p.add_argument("--budget", type=float, default=450, help="seconds for the whole check (default 450)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return serve(args.worker)
    if not args.dry and not _cuda_available():
        print("gpu_check: no CUDA device is visible; run it on a CUDA machine, or with --dry on the CPU",
              file=sys.stderr)
        return 2
    dry = args.dry
    settings = {"dry": dry, "batch": 1, "size": args.size or (32 if dry else 256),
                "steps": args.steps or (1 if dry else 20), "warmup": args.warmup if args.warmup is not None else
                (0 if dry else 5), "fast_set": args.fast_set,
                "inference": [1, 0.0, 2] if dry else [3, 3.0, 10]}  # warm-up calls, least seconds, least calls
    start, budget = time.monotonic(), Budget(args.budget)
    report: dict[str, Any] = {"format": 1, "dry": dry, "machine": describe(dry), "settings": settings,
                              "parts": {}, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    memory: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("train_speed", lambda: part_train_speed(settings, budget, memory)),
        ("cpu_agreement", lambda: part_cpu_agreement(settings, budget)),
        ("fp16", lambda: part_fp16(settings, budget, memory)),
        ("inference", lambda: part_inference(settings, budget, memory)),
        ("memory", lambda: part_memory(memory)),
        ("gpu_tests", lambda: part_gpu_tests(settings, budget)),
    ]
    for name, run in steps:
        t0 = time.monotonic()
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        try:
            report["parts"][name] = run()
        except Exception as err:  # noqa: BLE001 - recorded; the other parts still run
            report["parts"][name] = _error(err)
        report["parts"][name]["seconds"] = time.monotonic() - t0
    report["parts"] = {name: report["parts"][name] for name in PARTS}
    report["passed"] = all(part["status"] in ("passed", "skipped") for part in report["parts"].values())
    report["seconds"] = time.monotonic() - start
    if args.json:
        write_json_atomic(args.json, report)
    print("\n".join(summary_lines(report)))
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""``check_method``: a method built on tiny networks, driven as the engine drives it (see :mod:`translate.testing`).

It uses the engine (``prepare``, loss placement, the guarded ``sample``) and ``translate.load``,
so it sits above them (layer 3); torch and the engine are imported when it runs.
"""

from __future__ import annotations

import math
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..components.build import BuildContext, BuiltMethod
from ..data.contract import DataInfo
from ..nn.traits import scale_factor, size_multiple
from ..plugin.registry import OptionsInvalid, Registry
from ..recipe import Recipe, loss_role_problems, resolved_dict
from .losses import component_of

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ..components.method import Method


class _AnyChannels(dict[str, int]):
    """Channel counts for a method whose data keys are not given: every key asked for has 3."""

    def __missing__(self, key: str) -> int:
        self[key] = 3
        return 3


def check_method(registry: Registry, name: str, *, options: dict[str, Any] | None = None,
                 tables: dict[str, Any] | None = None, channels: dict[str, int] | None = None,
                 data: DataInfo | None = None, batch: dict[str, "torch.Tensor"] | None = None, steps: int = 2,
                 batch_size: int = 2, seed: int = 0, folder: str | Path | None = None) -> "Method":
    """Build a method on tiny networks, train it a few steps, sample, export and reload it.

    ``registry`` must hold the method and the components it builds (``load_registry_with(plugin,
    installed=True)`` gives the built-in ones). ``options`` are the method's options (default:
    its ``smoke_options``); ``tables`` adds recipe tables (``generator``, ``discriminator``,
    ``losses``, ...) as dicts; a component the method builds without a table is built from its
    ``smoke_options``. ``channels`` maps data keys to channel counts (default: 3 for every key
    the method asks for); ``batch`` replaces the random batch (``(N, C, H, W)`` tensors in
    [-1, 1] by data key; by default the generators' inputs get the smallest side that their
    ``size_multiple`` divides, with the other keys ``scale_factor`` times larger and >= 32; which
    keys are inputs comes from ``data.translations``, else the first data key). Checks, with
    ``AssertionError`` messages:

    - the recipe's loss roles are ones the method declares; the factory returns a ``Method``
      with ``torch.nn.Module`` networks; no loss is among the networks; after ``prepare`` every
      loss module is on the device, and frozen in eval mode unless ``trainable``;
    - ``steps`` train steps return finite, detached scalar losses and change some weights;
    - sampling (as the engine calls it) gives rows of ``(label, (N, C, H, W))`` images that a
      sample grid accepts, and leaves parameters, buffers, modes, ``requires_grad``, every RNG
      and the method's ``state_dict()`` as they were;
    - every ``ExportSpec`` names a network; the model file written from ``exports()`` loads with
      ``translate.load``, and each generator maps ``(C_in, H, W)`` to ``(C_out, s*H, s*W)``
      (``s``: its ``scale_factor``), equal to the trained network's output in ``eval`` mode.

    The model file goes to ``folder`` (default: a temporary folder, removed). Returns the method.
    """
    import torch

    comp = component_of(registry, "method", name)
    where = f"method {comp.name!r}"
    recipe = Recipe.model_validate({
        "seed": seed, **(tables or {}),
        "method": {"name": comp.name, "options": comp.smoke_options if options is None else options},
        "data": {"name": "(check_method)"}, "train": {"steps": steps},
    })
    problems = loss_role_problems(registry, recipe)
    if problems:
        raise AssertionError(f"{where}: " + "; ".join(problems))
    try:
        parsed = comp.parse_options(recipe.method.options, "method.options")
    except OptionsInvalid as err:
        raise AssertionError(f"{where}: options rejected: {err}") from None
    ctx = BuildContext(recipe=recipe, registry=registry, channels=_AnyChannels() if channels is None else
                       dict(channels), data=data or DataInfo(), source=f"check_method({comp.name!r})", smoke=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        method = comp.build(parsed, ctx=ctx)
        built = _checked(method, ctx, where)
        accelerator = _prepared(built, where)
        batch = batch if batch is not None else _random_batch(built, ctx.channels, batch_size)
        batch = {k: v.to(accelerator.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        _train(method, batch, accelerator, steps, where)
        _sample(built, batch, seed, accelerator.device, where)
    _export(built, comp.name, recipe, registry, folder, where)
    return method


def _checked(method: Any, ctx: BuildContext, where: str) -> BuiltMethod:
    """The method checked (a ``Method`` with module networks, no loss among them), with its build records."""
    import torch

    from ..components.method import Method

    if not isinstance(method, Method):
        raise AssertionError(f"{where}: factory returned {type(method).__name__}, not a translate.Method")
    if not method.networks or not all(isinstance(n, torch.nn.Module) for n in method.networks.values()):
        raise AssertionError(f"{where}: networks must be a non-empty dict of torch.nn.Module")
    nets = {id(n) for n in method.networks.values()}
    inside = [role for role, loss in ctx.losses.items() if id(loss) in nets]
    if inside:
        raise AssertionError(f"{where}: losses {inside} are in method.networks (losses are never checkpointed)")
    return ctx.finish(method)


def _prepared(built: BuiltMethod, where: str) -> Any:
    """The method prepared as the engine does (losses placed, checked); the Accelerator."""
    import torch
    from accelerate import Accelerator
    from accelerate.state import is_initialized

    from ..components.losses import is_trainable
    from ..engine.setup import prepare

    # the CPU, unless this process already set Accelerate up (its state is process-wide)
    accelerator = Accelerator() if is_initialized() else Accelerator(cpu=True)
    prepare(accelerator, built)
    for role, loss in built.losses.items():
        if not isinstance(loss, torch.nn.Module):
            continue
        off = [n for n, t in [*loss.named_parameters(), *loss.named_buffers()] if t.device != accelerator.device]
        frozen = not loss.training and not any(p.requires_grad for p in loss.parameters())
        if off or (not is_trainable(loss) and not frozen):
            raise AssertionError(f"{where}: loss {role!r} was not placed by the engine ({off[:3]} off the device)")
    return accelerator


def _random_batch(built: BuiltMethod, channels: dict[str, int], batch_size: int) -> dict[str, Any]:
    """Random images for every data key: inputs of the generators at side ``s``, other keys at ``scale * s``.

    ``scale`` is the largest ``scale_factor`` of the exported generators; inputs are the keys that
    ``built.data.translations`` names as inputs, else the first data key (when a generator scales).
    ``s`` is the smallest side >= 32 / scale that every generator's ``size_multiple`` divides and
    whose ``scale * s`` every other network's ``size_multiple`` divides.
    """
    import torch

    method, info = built.method, built.data
    keys = list(method.data_keys) or list(channels)
    exported = {spec.network for spec in method.exports()}
    scale = max([scale_factor(method.networks[n]) for n in exported if n in method.networks] or [1])
    gen = other = 1
    for name, net in method.networks.items():
        m = size_multiple(net)
        record = built.records.get(name)
        if record is not None and record.kind == "generator":
            gen = gen * m // math.gcd(gen, m)
        else:
            other = other * m // math.gcd(other, m)
    side = gen
    while side * scale < 32 or (side * scale) % other:
        side += gen
    inputs = {source for _, source, _ in info.translations} or ({keys[0]} if scale > 1 else set(keys))
    return {k: torch.rand(batch_size, channels[k], side if k in inputs else side * scale,
                          side if k in inputs else side * scale) * 2 - 1 for k in keys}


def _train(method: Any, batch: dict[str, Any], accelerator: Any, steps: int, where: str) -> None:
    import torch

    from ..components.method import StepContext

    before = [p.detach().clone() for net in method.networks.values() for p in net.parameters()]
    for step in range(steps):
        with accelerator.accumulate(*method.networks.values()):
            losses = method.train_step(batch, StepContext(accelerator=accelerator, step=step, epoch=0))
        if not isinstance(losses, dict) or not losses:
            raise AssertionError(f"{where}: train_step returned {type(losses).__name__}, expected a dict of losses")
        for key, value in losses.items():
            if not isinstance(value, torch.Tensor) or value.numel() != 1:
                raise AssertionError(f"{where}: train_step loss {key!r} is not a scalar tensor")
            if value.requires_grad:
                raise AssertionError(f"{where}: train_step loss {key!r} is not detached")
            if not torch.isfinite(value).all():
                raise AssertionError(f"{where}: train_step loss {key!r} is {float(value)} at step {step + 1}")
    after = [p.detach() for net in method.networks.values() for p in net.parameters()]
    if all(torch.equal(a, b) for a, b in zip(before, after)):
        raise AssertionError(f"{where}: {steps} train steps changed no weight (are the optimizers stepped?)")


def _snapshot(built: BuiltMethod) -> dict[str, Any]:
    """Everything sampling must leave alone (parameters included, to catch a plugin that writes them)."""
    import numpy as np
    import torch

    from ..engine.sampling import state_modules

    method = built.method
    modules = state_modules(method, built.losses.values())
    return {
        "parameters and buffers": [t.detach().clone() for m in modules for t in [*m.parameters(), *m.buffers()]],
        "train/eval modes": [s.training for m in modules for s in m.modules()],
        "requires_grad": [p.requires_grad for m in modules for p in m.parameters()],
        "torch RNG": torch.get_rng_state(),
        "CUDA RNG": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "Python random": random.getstate(),
        "NumPy RNG": repr(np.random.get_state()),
        "state_dict()": method.state_dict(),
    }


def _same(a: Any, b: Any) -> bool:
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _sample(built: BuiltMethod, batch: dict[str, Any], seed: int, device: "torch.device", where: str) -> None:
    import torch

    from ..engine.samples import make_grid
    from ..engine.sampling import guarded_sample

    before = _snapshot(built)
    groups = guarded_sample(built.method, batch, seed, device, built.losses.values())
    after = _snapshot(built)
    changed = [k for k in before if not _same(before[k], after[k])]
    if changed:
        raise AssertionError(f"{where}: sampling changed {', '.join(changed)} (sample must not touch training state)")
    if not isinstance(groups, list) or not groups or not all(isinstance(row, list) and row for row in groups):
        raise AssertionError(f"{where}: sample returned {type(groups).__name__}, expected rows of (label, image)")
    for row in groups:
        for item in row:
            ok = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) \
                and isinstance(item[1], torch.Tensor) and item[1].dim() == 4 and bool(torch.isfinite(item[1]).all())
            if not ok:
                raise AssertionError(f"{where}: sample column {item!r:.80} is not (label, finite (N, C, H, W) tensor)")
    make_grid(groups)


def _export(built: BuiltMethod, name: str, recipe: Recipe, registry: Registry, folder: str | Path | None,
            where: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _export_to(built, name, recipe, registry, Path(folder) if folder is not None else Path(tmp), where)


def _export_to(built: BuiltMethod, name: str, recipe: Recipe, registry: Registry, folder: Path, where: str) -> None:
    import torch

    from ..errors import PluginError
    from ..inference.pipeline import load
    from ..models import save_model
    from ..nn.test_mode import in_test_mode

    method, info = built.method, built.data
    specs = method.exports()
    if not specs:
        raise AssertionError(f"{where}: exports() names no generator")
    missing = [s.network for s in specs if s.network not in method.networks]
    if missing:
        raise AssertionError(f"{where}: exports() names networks {missing} that are not in method.networks")
    try:
        exports = built.exports()
    except PluginError as err:
        raise AssertionError(f"{where}: {err}") from None
    folder.mkdir(parents=True, exist_ok=True)
    path = save_model(folder / "model.safetensors", method=name, exports=exports, recipe=resolved_dict(recipe),
                      data=info, limitations=tuple(method.limitations) + tuple(info.limitations))
    for spec, net, record in exports:
        pipe = load(path, registry=registry, device="cpu", direction=spec.name, mode="eval")
        multiple = size_multiple(net)
        side = multiple * -(-32 // multiple)
        scale = scale_factor(net)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            x = torch.rand(1, record.in_channels, side, side) * 2 - 1
        y = pipe(x)
        want = (1, record.out_channels, side * scale, side * scale)
        if tuple(y.shape) != want:
            raise AssertionError(f"{where}: exported {spec.name!r} gives {tuple(y.shape)} for {tuple(x.shape)}, "
                                 f"expected {want}")
        with in_test_mode(net, "eval"), torch.no_grad():
            ref = net(x.to(next(iter(net.parameters()), x).device)).float().clamp(-1, 1).cpu()
        if not torch.allclose(y, ref, atol=1e-4):
            raise AssertionError(f"{where}: exported {spec.name!r} after translate.load differs from the trained "
                                 f"network by {float((y - ref).abs().max()):.3g}")

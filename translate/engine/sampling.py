"""Calling ``Method.sample`` so that it cannot change training state, whatever the plugin does.

:func:`training_state_kept` saves, and restores afterwards:

- every buffer of every network and loss (BatchNorm running statistics, ``num_batches_tracked``);
- the train/eval mode of every submodule, and every parameter's ``requires_grad``;
- every random number generator training uses: torch's CPU generator, the accelerator's
  (every CUDA device when CUDA is initialised), Python's ``random`` and NumPy's global one.

:func:`guarded_sample` runs ``method.sample`` inside it, under ``torch.no_grad()``, seeded, so a
sample grid is the same whenever it is drawn. Parameters and optimizers are not copied (that would
double the memory of a run): under ``no_grad`` nothing reaches them unless the plugin writes to
them directly, which the contract forbids and :func:`translate.testing.check_method` catches.

:func:`steps_undone` goes further, for the speed plan's calibration (:mod:`.calibrate`), which takes
real training steps and must leave no trace of them: it also copies the parameters (restored in
place, so optimizers keep them) and the optimizer, method and gradient-scaler state, drops the
gradients and puts Accelerate's step counter back.
"""

from __future__ import annotations

import contextlib
import copy
import random
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch


def state_modules(method: Any, losses: Iterable[Any] = ()) -> list[torch.nn.Module]:
    """The modules whose state sampling must keep: the method's networks and its loss modules
    (``losses``: the losses built for it, ``BuiltMethod.losses.values()``)."""
    modules = list(method.networks.values())
    modules += [m for m in losses if isinstance(m, torch.nn.Module)]
    return modules


@contextlib.contextmanager
def rng_kept(device: torch.device | str | None = None) -> Iterator[None]:
    """Restore torch's CPU and ``device`` generators (all CUDA ones when CUDA is up), ``random`` and NumPy's."""
    py_state, np_state = random.getstate(), np.random.get_state()
    device = torch.device(device) if device is not None else torch.device("cpu")
    devices: list[int] | None
    if device.type in ("cpu", "cuda"):  # every CUDA device once CUDA is up (nothing to keep before)
        device_type = "cuda"
        devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    else:  # another accelerator (mps, xpu): fork_rng keeps each of its devices
        device_type, devices = device.type, None
    try:
        with torch.random.fork_rng(devices=devices, device_type=device_type):
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@contextlib.contextmanager
def modules_kept(modules: Iterable[torch.nn.Module]) -> Iterator[None]:
    """Restore the buffers, the mode of every submodule and ``requires_grad`` of every parameter."""
    modules = list(modules)
    modes = [(m, m.training) for top in modules for m in top.modules()]
    grads = [(p, p.requires_grad) for top in modules for p in top.parameters()]
    buffers = [(top, {k: v.detach().clone() for k, v in top.named_buffers()}) for top in modules]
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training
        for param, flag in grads:
            param.requires_grad_(flag)
        with torch.no_grad():
            for top, saved in buffers:
                now = dict(top.named_buffers())
                for name, value in saved.items():
                    if name in now and now[name].shape == value.shape:
                        now[name].copy_(value)
                    else:  # the plugin replaced or removed the buffer: put the saved one back
                        _set_buffer(top, name, value)


def _set_buffer(top: torch.nn.Module, name: str, value: torch.Tensor) -> None:
    owner_name, _, leaf = name.rpartition(".")
    owner = top.get_submodule(owner_name) if owner_name else top
    owner.register_buffer(leaf, value)


@contextlib.contextmanager
def training_state_kept(method: Any, device: torch.device | str | None = None,
                        losses: Iterable[Any] = ()) -> Iterator[None]:
    """Everything sampling could change in training, restored on exit (see the module docstring)."""
    with rng_kept(device), modules_kept(state_modules(method, losses)):
        yield


def guarded_sample(method: Any, batch: Any, seed: int, device: torch.device | str | None = None,
                   losses: Iterable[Any] = ()) -> Any:
    """``method.sample(batch)`` seeded with ``seed``, under ``no_grad``, with training state kept
    (that of the networks and of the loss modules in ``losses``)."""
    with training_state_kept(method, device, losses), torch.no_grad():
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        return method.sample(batch)


@contextlib.contextmanager
def steps_undone(modules: Sequence[torch.nn.Module], optimizers: Mapping[str, Any], method: Any,
                 accelerator: Any) -> Iterator[None]:
    """Put back everything a few training steps change: parameters (in place, so optimizers keep
    them), buffers and modes, gradients (dropped), optimizer and method state, the gradient scaler,
    Accelerate's step counter and every RNG."""
    params = [(p, p.detach().clone()) for m in modules for p in m.parameters()]
    opt_states = {name: copy.deepcopy(opt.state_dict()) for name, opt in optimizers.items()}
    method_state = copy.deepcopy(method.state_dict())
    scaler = getattr(accelerator, "scaler", None)
    scaler_state = copy.deepcopy(scaler.state_dict()) if scaler is not None else None
    step = getattr(accelerator, "step", None)
    try:
        with rng_kept(getattr(accelerator, "device", None)), modules_kept(modules):
            yield
    finally:
        with torch.no_grad():
            for p, saved in params:
                p.copy_(saved)
                p.grad = None
        for name, opt in optimizers.items():
            opt.load_state_dict(opt_states[name])
        method.load_state_dict(method_state)
        if scaler is not None and scaler_state is not None:
            scaler.load_state_dict(scaler_state)
        if step is not None:
            accelerator.step = step

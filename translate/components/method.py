"""The method contract: a training procedure (pix2pix, CycleGAN, ...) the engine drives.

A method plugin registers ``factory(options, ctx) -> Method``. The factory builds its
networks and optimizers through ``ctx`` (so the recipe's components, validated options
and plugins are recorded for export). The engine then prepares the networks and
optimizers with Accelerate, replaces them in ``method.networks`` / ``method.optimizers``
in place, and calls :meth:`Method.train_step` once per batch inside one
``accelerator.accumulate(...)`` context.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from accelerate import Accelerator


@dataclass(frozen=True)
class ExportSpec:
    """One generator a trained method exports to its model file.

    ``network`` is the key in ``Method.networks``; ``name`` the key used in the model
    file (``--direction`` picks by name or by ``direction``); ``input_domain`` and
    ``output_domain`` name the data each side expects (e.g. "edges" -> "photo").
    """

    name: str
    network: str
    direction: str = "AtoB"
    input_domain: str = "A"
    output_domain: str = "B"
    test_mode: str = "eval"  # "eval" or "train" (paper: dropout on, batch statistics)


@dataclass
class StepContext:
    """What a train step may use from the engine."""

    accelerator: "Accelerator"
    step: int
    epoch: int

    def backward(self, loss: "torch.Tensor") -> None:
        """Backward through Accelerate (gradient-accumulation scaling, fp16 loss scaling)."""
        self.accelerator.backward(loss)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed-precision context for code outside a prepared module's forward (losses)."""
        return self.accelerator.autocast()


def unwrap(module: "torch.nn.Module") -> "torch.nn.Module":
    """The plain module inside DDP, FSDP, DeepSpeed and ``torch.compile`` wrappers (for sampling and export).

    Accelerate's ``extract_model_from_parallel`` does the unwrapping; a mixed-precision forward
    installed by Accelerate is kept, as in ``Accelerator.unwrap_model``.
    """
    from accelerate.utils import extract_model_from_parallel

    return extract_model_from_parallel(module, keep_fp32_wrapper=True, keep_torch_compile=False)


def set_requires_grad(module: "torch.nn.Module | None", flag: bool) -> None:
    """Freeze or unfreeze a network (freeze D during the G step, ENGINE_NOTES 3)."""
    if module is not None:
        module.requires_grad_(flag)


class Method:
    """Base class of training methods.

    Subclasses fill ``networks`` and ``optimizers`` in ``__init__`` (insertion order is
    the order used for preparing and checkpointing) and implement ``train_step``,
    ``sample`` and ``exports``.

    Losses come from ``ctx.loss(role)``; the roles a method reads are declared as
    ``loss_roles: ClassVar[tuple[str, ...]]`` on its options model (a recipe table for any other
    role is an error). The engine moves loss modules to the run's device and freezes them (unless
    ``trainable = True``); they are never in ``networks``, so never in optimizers or checkpoints.

    ``sample`` cannot change training state: the engine calls it under ``torch.no_grad()``,
    seeded, and restores afterwards every network's buffers (BatchNorm running statistics), the
    train/eval mode of every submodule, ``requires_grad`` of every parameter, and every random
    number generator (torch CPU and CUDA, Python ``random``, NumPy). It may put networks in
    eval or train mode and draw random numbers freely; it must not step optimizers or write to
    parameters (those are not copied).
    """

    #: Data keys the method needs from each batch (checked against the data set once).
    data_keys: tuple[str, ...] = ()

    #: Known limits of models trained this way, recorded in the model file for model cards.
    limitations: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.networks: dict[str, "torch.nn.Module"] = {}
        self.optimizers: dict[str, "torch.optim.Optimizer"] = {}

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, "torch.Tensor"]:
        """One training step on one batch; returns detached scalar losses by name."""
        raise NotImplementedError

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, "torch.Tensor"]]]:
        """Images for a sample grid: row groups of labelled columns, each (N, C, H, W) in [-1, 1].

        The engine restores modes, buffers and random state afterwards (see the class docstring).
        """
        raise NotImplementedError

    def exports(self) -> list[ExportSpec]:
        """The generators written to the model file, the default one first."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Extra resumable state (image pools, counters): tensors and JSON values only."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


@dataclass
class ComponentRecord:
    """How a network was built (component, validated options, plugin, channels).

    :class:`~translate.components.build.BuildContext` keeps one per network it builds, beside the
    module (:class:`~translate.components.build.BuiltMethod`); model files store it per generator.
    """

    kind: str
    name: str
    options: dict[str, Any]
    plugin_name: str
    distribution: str
    version: str
    in_channels: int
    out_channels: int | None = None

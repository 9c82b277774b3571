"""Losses that hold weights (a VGG for a perceptual loss): placed on the run's device by the engine.

A method builds its losses through ``BuildContext.loss``, which records them in ``ctx.losses``;
the :class:`~translate.components.build.BuiltMethod` that :func:`translate.engine.setup.build_method`
returns carries them (``built.losses``). After ``prepare``, :func:`place_losses` moves every loss that is a
``torch.nn.Module`` to ``accelerator.device`` in float32 (autocast decides the compute dtype),
in place, so the method's own references see the moved module. Unless the module says
``trainable = True`` (a class or instance attribute), its parameters are frozen
(``requires_grad_(False)``) and it is put in eval mode. Losses are never in ``method.networks``,
so they are in no optimizer the engine prepares and in no checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch

from ..components.losses import is_trainable
from ..errors import PluginError


def place_losses(losses: dict[str, Any], device: torch.device | str) -> list[str]:
    """Move each ``nn.Module`` loss to ``device`` (float32), in place; freeze and eval it unless trainable.

    Returns the roles that were placed (losses that are plain functions are left alone).
    """
    placed = []
    for role, loss in losses.items():
        if not isinstance(loss, torch.nn.Module):
            continue
        moved = loss.to(device=device)
        moved = moved.float()
        if moved is not loss:  # nn.Module.to works in place; a subclass that returns a copy would be lost
            raise PluginError(f"loss {role!r}: {type(loss).__name__}.to() returned a new object; "
                            "a loss module must move in place")
        if not is_trainable(loss, f"loss {role!r}"):
            loss.requires_grad_(False)
            loss.eval()
        placed.append(role)
    return placed

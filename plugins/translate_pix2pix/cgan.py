"""What the pix2pix and colorization methods share: the D and G updates and the sample pass.

Both train a conditional GAN the way pix2pix does: one D step on the real pair and the detached
fake pair (in the order ``d_order`` asks, since BatchNorm in D updates its running statistics per
call), then one G step; both sample with a copy of G in the paper's test mode.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import torch

from translate.api import Discriminator, StepContext, set_requires_grad, unwrap


def discriminator_step(D: torch.nn.Module, gan: Any, optimizer: torch.optim.Optimizer, real: torch.Tensor,
                       fake: torch.Tensor, order: str, ctx: StepContext) -> torch.Tensor:
    """One update of ``D`` on its ``real`` and (detached) ``fake`` inputs; returns the detached loss.

    ``D`` takes gradients only during this step: it is frozen again afterwards, so the G step
    that follows leaves no gradients in it (ENGINE_NOTES 3).
    """
    set_requires_grad(D, True)
    optimizer.zero_grad(set_to_none=True)
    with ctx.autocast():
        loss = gan.discriminator_loss(in_order(D, fake, real, order), real, fake)
    ctx.backward(loss)
    optimizer.step()
    set_requires_grad(D, False)
    return loss.detach()


#: A term of the generator's objective: its log name, its weight, and how to compute it (in autocast).
Term = tuple[str, float, Callable[[], torch.Tensor]]


def generator_step(optimizer: torch.optim.Optimizer, like: torch.Tensor, terms: Sequence[Term],
                   ctx: StepContext) -> dict[str, torch.Tensor]:
    """One G update on ``sum(weight * term)``; returns each term (detached, by name) and the total as ``"G"``.

    The terms are computed in order inside one autocast region and added to a float32 zero on
    ``like``'s device, so the sum is the same whatever dtype a term comes in.
    """
    optimizer.zero_grad(set_to_none=True)
    losses: dict[str, torch.Tensor] = {}
    with ctx.autocast():
        total = like.new_zeros((), dtype=torch.float32)
        for name, weight, compute in terms:
            value = compute()
            total = total + weight * value
            losses[name] = value.detach()
    ctx.backward(total)
    optimizer.step()
    losses["G"] = total.detach()
    return losses


def sample_outputs(G: torch.nn.Module, x: torch.Tensor, test_mode: str) -> torch.Tensor:
    """G's outputs for ``x`` in ``test_mode``, from a copy of G (sampling must not touch training state).

    ``"train"`` is the paper's test mode: dropout on and BatchNorm with each test image's own
    statistics (a batch of one per image); ``"eval"`` uses the running statistics.
    """
    G = copy.deepcopy(unwrap(G))
    dtype = next(G.parameters()).dtype
    if test_mode == "train":
        G.train()
        return torch.cat([G(x[i : i + 1].to(dtype)) for i in range(x.shape[0])]).float()
    G.eval()
    return G(x.to(dtype)).float()


class _Evaluated:
    """D with its outputs for ``inputs`` computed up front, in the order given.

    The adversarial loss evaluates D on real then fake; handing it this wrapper evaluates D in
    the order the method chose while the loss stays the same. Any other input (a gradient
    penalty's interpolates) goes to D itself.
    """

    def __init__(self, D: torch.nn.Module, *inputs: torch.Tensor) -> None:
        self.D = D
        self.outputs = {id(t): D(t) for t in inputs}
        self.inputs = inputs  # keeps the tensors alive, so that their ids stay theirs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.outputs.pop(id(x), None)
        return self.D(x) if out is None else out


def in_order(D: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor, order: str) -> Discriminator:
    """``D`` for the discriminator loss, evaluating fake and real in ``order`` ('real_first': as the loss does)."""
    if order == "real_first":
        return D
    return _Evaluated(D, fake, real)

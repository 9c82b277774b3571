"""The CycleGAN training method (Zhu et al., ICCV 2017), written against translate's public hooks."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import torch

from translate.api import ExportSpec, Method, StepContext, set_requires_grad, unwrap

from .method_options import CycleGANOptions
from .pool import ImagePool, gather_pool_states, process_rank


class CycleGAN(Method):
    """G_AtoB and G_BtoA with discriminators D_A (real vs fake A) and D_B; one G step, then one D step."""

    data_keys = ("A", "B")
    limitations = (
        "CycleGAN changes texture and colour much more than geometry: it cannot change shapes or layouts, "
        "and objects unlike the training domains may be left unchanged or get artefacts.",
    )

    def __init__(self, options: CycleGANOptions, ctx: Any) -> None:
        super().__init__()
        self.opt = options
        ca, cb = ctx.channels["A"], ctx.channels["B"]
        if options.lambda_identity > 0 and ca != cb:
            raise ctx.fail(
                "method.options.lambda_identity",
                f"the identity loss feeds B images ({cb} channels) to the A->B generator, which takes {ca}; "
                "set lambda_identity = 0 for domains with different channel counts",
            )
        g_ab = ctx.generator(in_channels=ca, out_channels=cb, default="resnet_9blocks")
        g_ba = ctx.generator(in_channels=cb, out_channels=ca, default="resnet_9blocks")
        d_a = ctx.discriminator(in_channels=ca, default="patchgan")
        d_b = ctx.discriminator(in_channels=cb, default="patchgan")
        self.networks.update({"G_AtoB": g_ab, "G_BtoA": g_ba, "D_A": d_a, "D_B": d_b})
        betas = (options.beta1, options.beta2)
        self.optimizers["G"] = ctx.adam(itertools.chain(g_ab.parameters(), g_ba.parameters()), options.lr, betas)
        self.optimizers["D"] = ctx.adam(
            itertools.chain(d_a.parameters(), d_b.parameters()), options.lr_d or options.lr, betas
        )
        self.gan = ctx.loss("adversarial", default="lsgan")
        self.cycle = ctx.loss("cycle", default="l1")
        self.identity = ctx.loss("identity", default="l1")
        seed = ctx.recipe.seed
        self.pool_A = ImagePool(options.pool_size, seed=seed * 2 + 1)
        self.pool_B = ImagePool(options.pool_size, seed=seed * 2 + 2)

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.opt
        real_A, real_B = batch["A"], batch["B"]
        g_ab, g_ba = self.networks["G_AtoB"], self.networks["G_BtoA"]
        d_a, d_b = self.networks["D_A"], self.networks["D_B"]
        losses: dict[str, torch.Tensor] = {}

        # Generators, with both discriminators frozen (ENGINE_NOTES 3).
        set_requires_grad(d_a, False)
        set_requires_grad(d_b, False)
        opt_g = self.optimizers["G"]
        opt_g.zero_grad(set_to_none=True)
        with ctx.autocast():
            fake_B = g_ab(real_A)
            rec_A = g_ba(fake_B)
            fake_A = g_ba(real_B)
            rec_B = g_ab(fake_A)
            gan_AB = self.gan.generator_loss(d_b, fake_B)
            gan_BA = self.gan.generator_loss(d_a, fake_A)
            cyc_A = self.cycle(rec_A.float(), real_A.float())
            cyc_B = self.cycle(rec_B.float(), real_B.float())
            loss_g = o.lambda_gan * (gan_AB + gan_BA) + o.lambda_A * cyc_A + o.lambda_B * cyc_B
            if o.lambda_identity > 0:
                idt_B = self.identity(g_ab(real_B).float(), real_B.float())
                idt_A = self.identity(g_ba(real_A).float(), real_A.float())
                loss_g = loss_g + o.lambda_identity * (o.lambda_B * idt_B + o.lambda_A * idt_A)
                losses.update(idt_A=idt_A.detach(), idt_B=idt_B.detach())
        ctx.backward(loss_g)
        opt_g.step()
        losses.update(G_AtoB=gan_AB.detach(), G_BtoA=gan_BA.detach(), cycle_A=cyc_A.detach(),
                      cycle_B=cyc_B.detach(), G=loss_g.detach())

        # Discriminators, on fakes drawn from the history pools.
        set_requires_grad(d_a, True)
        set_requires_grad(d_b, True)
        opt_d = self.optimizers["D"]
        opt_d.zero_grad(set_to_none=True)
        with ctx.autocast():
            loss_d_b = self.gan.discriminator_loss(d_b, real_B, self.pool_B.query(fake_B.detach()))
            loss_d_a = self.gan.discriminator_loss(d_a, real_A, self.pool_A.query(fake_A.detach()))
        ctx.backward(loss_d_a + loss_d_b)
        opt_d.step()
        losses.update(D_A=loss_d_a.detach(), D_B=loss_d_b.detach())
        return losses

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        g_ab = copy.deepcopy(unwrap(self.networks["G_AtoB"]))
        g_ba = copy.deepcopy(unwrap(self.networks["G_BtoA"]))
        mode = self.opt.test_mode == "train"
        g_ab.train(mode)
        g_ba.train(mode)
        real_A, real_B = batch["A"].to(_dtype(g_ab)), batch["B"].to(_dtype(g_ab))
        fake_B, fake_A = g_ab(real_A), g_ba(real_B)
        rec_A, rec_B = g_ba(fake_B), g_ab(fake_A)
        return [
            [("real_A", real_A), ("fake_B", fake_B.float()), ("rec_A", rec_A.float())],
            [("real_B", real_B), ("fake_A", fake_A.float()), ("rec_B", rec_B.float())],
        ]

    def exports(self) -> list[ExportSpec]:
        o = self.opt
        ab = ExportSpec(name="AtoB", network="G_AtoB", direction="AtoB", input_domain=o.name_a,
                        output_domain=o.name_b, test_mode=o.test_mode)
        ba = ExportSpec(name="BtoA", network="G_BtoA", direction="BtoA", input_domain=o.name_b,
                        output_domain=o.name_a, test_mode=o.test_mode)
        return [ab, ba] if o.default_direction == "AtoB" else [ba, ab]

    def state_dict(self) -> dict[str, Any]:
        """The image pools; with several processes every rank's, under ``ranks`` (all processes call it)."""
        per_rank = gather_pool_states([self.pool_A, self.pool_B])
        if len(per_rank) == 1:
            return {"pool_A": per_rank[0][0], "pool_B": per_rank[0][1]}
        return {"ranks": [{"pool_A": a, "pool_B": b} for a, b in per_rank]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore this process's pools (rank 0's when the checkpoint has fewer processes)."""
        if "ranks" in state:
            rank, _ = process_rank()
            ranks = state["ranks"]
            state = ranks[rank] if rank < len(ranks) else ranks[0]
        device = next(unwrap(self.networks["G_AtoB"]).parameters()).device
        self.pool_A.load_state_dict(state["pool_A"], device)
        self.pool_B.load_state_dict(state["pool_B"], device)


def _dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


__all__ = ["CycleGAN"]

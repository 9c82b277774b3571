"""The pix2pix training method (Isola et al., CVPR 2017): cGAN + lambda * L1 (+ an optional perceptual term)."""

from __future__ import annotations

import copy
from typing import Any

import torch

from translate.api import Discriminator, ExportSpec, Method, StepContext, set_requires_grad, unwrap

from .method_options import Pix2PixOptions


class Pix2Pix(Method):
    """One discriminator step (D sees the fake batch, then the real one, unless ``d_order``
    says otherwise), then one generator step, per batch."""

    data_keys = ("input", "target")
    limitations = (
        "pix2pix learned one paired mapping: inputs must look like the training inputs (e.g. the same kind "
        "of label maps or edges), otherwise outputs degrade quickly.",
    )

    def __init__(self, options: Pix2PixOptions, ctx: Any) -> None:
        super().__init__()
        self.opt = options
        c_in, c_out = ctx.channels["input"], ctx.channels["target"]
        self.direction = ctx.data.direction
        G = ctx.generator(in_channels=c_in, out_channels=c_out, default="unet_256")
        self.networks["G"] = G
        reference = options.optimizer == "reference"
        self.optimizers["G"] = ctx.adam(G.parameters(), options.lr, (options.beta1, options.beta2), reference=reference)
        self.gan = None
        if options.lambda_gan > 0:
            d_in = c_in + c_out if options.conditional else c_out
            D = ctx.discriminator(in_channels=d_in, default="patchgan")
            self.networks["D"] = D
            self.optimizers["D"] = ctx.adam(D.parameters(), options.lr_d or options.lr, (options.beta1, options.beta2),
                                            reference=reference)
            self.gan = ctx.loss("adversarial", default="vanilla")
        self.reconstruction = ctx.loss("reconstruction", default="l1") if options.lambda_l1 > 0 else None
        self.perceptual = None
        if options.lambda_perceptual > 0:
            if c_out != 3:
                raise ctx.fail("method.options.lambda_perceptual", f"a perceptual loss needs 3-channel (RGB) targets, "
                               f"but the data set's targets have {c_out} channels; set lambda_perceptual = 0")
            self.perceptual = ctx.loss("perceptual", default="perceptual")

    def _d_input(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, y], dim=1) if self.opt.conditional else y

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, y = batch["input"], batch["target"]
        G, D = self.networks["G"], self.networks.get("D")
        losses: dict[str, torch.Tensor] = {}
        with ctx.autocast():
            fake = G(x)
        if D is not None:
            assert self.gan is not None
            set_requires_grad(D, True)
            opt_d = self.optimizers["D"]
            opt_d.zero_grad(set_to_none=True)
            with ctx.autocast():
                real, fake_d = self._d_input(x, y), self._d_input(x, fake.detach())
                loss_d = self.gan.discriminator_loss(_in_order(D, fake_d, real, self.opt.d_order), real, fake_d)
            ctx.backward(loss_d)
            opt_d.step()
            set_requires_grad(D, False)  # no D gradients from the G step (ENGINE_NOTES 3)
            losses["D"] = loss_d.detach()
        opt_g = self.optimizers["G"]
        opt_g.zero_grad(set_to_none=True)
        with ctx.autocast():
            loss_g = fake.new_zeros((), dtype=torch.float32)
            if D is not None:
                assert self.gan is not None
                g_gan = self.gan.generator_loss(D, self._d_input(x, fake))
                loss_g = loss_g + self.opt.lambda_gan * g_gan
                losses["G_gan"] = g_gan.detach()
            if self.reconstruction is not None:
                rec = self.reconstruction(fake.float(), y.float())
                loss_g = loss_g + self.opt.lambda_l1 * rec
                losses["G_l1"] = rec.detach()
            if self.perceptual is not None:
                perceptual = self.perceptual(fake, y)  # features in autocast, distances in float32
                loss_g = loss_g + self.opt.lambda_perceptual * perceptual
                losses["G_perceptual"] = perceptual.detach()
        ctx.backward(loss_g)
        opt_g.step()
        losses["G"] = loss_g.detach()
        return losses

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        G = copy.deepcopy(unwrap(self.networks["G"]))  # test mode must not touch training state
        x, y = batch["input"], batch["target"]
        if self.opt.test_mode == "train":
            G.train()  # the paper: dropout on, statistics of each test image (batch of one)
            fake = torch.cat([G(x[i : i + 1].to(_dtype(G))) for i in range(x.shape[0])])
        else:
            G.eval()
            fake = G(x.to(_dtype(G)))
        return [[("input", x), ("output", fake.float()), ("target", y)]]

    def exports(self) -> list[ExportSpec]:
        a, b = ("A", "B") if self.direction == "AtoB" else ("B", "A")
        return [ExportSpec(name="G", network="G", direction=self.direction, input_domain=a,
                           output_domain=b, test_mode=self.opt.test_mode)]


class _Evaluated:
    """D with its outputs for ``inputs`` computed up front, in the order given.

    The adversarial loss evaluates D on real then fake; handing it this wrapper evaluates D in
    the order the method chose (BatchNorm in D updates its running statistics per call) while the
    loss stays the same. Any other input (a gradient penalty's interpolates) goes to D itself.
    """

    def __init__(self, D: torch.nn.Module, *inputs: torch.Tensor) -> None:
        self.D = D
        self.outputs = {id(t): D(t) for t in inputs}
        self.inputs = inputs  # keeps the tensors alive, so that their ids stay theirs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.outputs.pop(id(x), None)
        return self.D(x) if out is None else out


def _in_order(D: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor, order: str) -> Discriminator:
    """``D`` for the discriminator loss, evaluating fake and real in ``order`` ('real_first': as the loss does)."""
    if order == "real_first":
        return D
    return _Evaluated(D, fake, real)


def _dtype(module: torch.nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype

"""The pix2pix training method (Isola et al., CVPR 2017): cGAN + lambda * L1 (+ an optional perceptual term)."""

from __future__ import annotations

from typing import Any

import torch

from translate.api import ExportSpec, Method, StepContext

from .cgan import Term, discriminator_step, generator_step, sample_outputs
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
            losses["D"] = discriminator_step(D, self.gan, self.optimizers["D"], self._d_input(x, y),
                                             self._d_input(x, fake.detach()), self.opt.d_order, ctx)
        terms: list[Term] = []
        if D is not None:
            assert self.gan is not None
            gan = self.gan
            terms.append(("G_gan", self.opt.lambda_gan, lambda: gan.generator_loss(D, self._d_input(x, fake))))
        if self.reconstruction is not None:
            rec = self.reconstruction
            terms.append(("G_l1", self.opt.lambda_l1, lambda: rec(fake.float(), y.float())))
        if self.perceptual is not None:  # features in autocast, distances in float32
            perceptual = self.perceptual
            terms.append(("G_perceptual", self.opt.lambda_perceptual, lambda: perceptual(fake, y)))
        losses.update(generator_step(self.optimizers["G"], fake, terms, ctx))
        return losses

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        x, y = batch["input"], batch["target"]
        return [[("input", x), ("output", sample_outputs(self.networks["G"], x, self.opt.test_mode)), ("target", y)]]

    def exports(self) -> list[ExportSpec]:
        a, b = ("A", "B") if self.direction == "AtoB" else ("B", "A")
        return [ExportSpec(name="G", network="G", direction=self.direction, input_domain=a,
                           output_domain=b, test_mode=self.opt.test_mode)]


"""The ``colorization`` method: pix2pix on L -> ab in Lab space (Isola et al. 2017, section 4.5).

The batch holds ``input``, the grey image (whose Lab L is the target's), and ``target``, the RGB
image, both in [-1, 1]. On the device, kornia converts the target to Lab; the generator's ab
prediction (``unet_colorizer``: ``G(x, output="ab")``; any other 1 -> 3 generator: the ab of its
RGB output, through kornia) is compared with the target's by L1 (lambda 100 on ``ab / 110``),
and a PatchGAN judges ``(L, ab)``, conditioned on L. Why (L, ab) rather than (grey, RGB): L is
given, not generated (the colorizer composes its output with the input's L), so the only thing
to judge is the chroma given the lightness; in RGB, D would see the lightness twice (in the
grey and in every RGB channel) and learn from the mixture what it could read directly.
Samples and exports are the RGB images (the colorizer's forward).
"""

from __future__ import annotations

from typing import Any

import torch

from translate.api import ExportSpec, Method, RecipeError, StepContext

from .cgan import Term, discriminator_step, generator_step, sample_outputs
from .colorization_lab import L_SCALE, lightness, to_lab
from .colorization_options import ColorizationOptions


class Colorization(Method):
    """One D step on (L, ab) (fake then real), then one G step (cGAN + lambda * L1 on ab), per batch."""

    data_keys = ("input", "target")
    limitations = (
        "The colours are a plausible guess learned from the training images: objects unlike them, or whose "
        "colour the grey image does not determine, come out in average or wrong colours.",
    )

    def __init__(self, options: ColorizationOptions, ctx: Any) -> None:
        super().__init__()
        self.opt = options
        c_in, c_out = ctx.channels["input"], ctx.channels["target"]
        if c_in not in (1, 3) or c_out != 3:
            raise RecipeError(ctx.source or "recipe", [
                f"data.options: method 'colorization' needs a grey (1-channel) or RGB input and an RGB (3-channel) "
                f"target; the data set serves {c_in} and {c_out} channels (the data set 'colorization' serves them)"])
        self.direction = ctx.data.direction
        G = ctx.generator(in_channels=c_in, out_channels=3, default="unet_colorizer")
        self.predicts_ab = callable(getattr(G, "predict_ab", None))
        self.networks["G"] = G
        reference = options.optimizer == "reference"
        betas = (options.beta1, options.beta2)
        self.optimizers["G"] = ctx.adam(G.parameters(), options.lr, betas, reference=reference)
        self.gan = None
        if options.lambda_gan > 0:
            D = ctx.discriminator(in_channels=3 if options.conditional else 2, default="patchgan")
            self.networks["D"] = D
            self.optimizers["D"] = ctx.adam(D.parameters(), options.lr_d or options.lr, betas, reference=reference)
            self.gan = ctx.loss("adversarial", default="vanilla")
        self.reconstruction = ctx.loss("reconstruction", default="l1") if options.lambda_l1 > 0 else None

    def predict_ab(self, G: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The generator's normalised ab for ``x`` (through ``G``'s own forward, so wrappers see the call)."""
        if self.predicts_ab:
            return G(x, output="ab")
        return to_lab(G(x))[1]

    def _d_input(self, l_norm: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        return torch.cat([l_norm, ab.to(l_norm.dtype)], dim=1) if self.opt.conditional else ab

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, y = batch["input"], batch["target"]
        G, D = self.networks["G"], self.networks.get("D")
        with torch.no_grad():
            l_norm = (lightness(x) / L_SCALE - 1).float()
            ab_real = to_lab(y.float())[1]
        losses: dict[str, torch.Tensor] = {}
        with ctx.autocast():
            ab_fake = self.predict_ab(G, x)
        if D is not None:
            assert self.gan is not None  # fake first, as pix2pix's default d_order (BatchNorm statistics)
            losses["D"] = discriminator_step(D, self.gan, self.optimizers["D"], self._d_input(l_norm, ab_real),
                                             self._d_input(l_norm, ab_fake.detach()), "fake_first", ctx)
        terms: list[Term] = []
        if D is not None:
            assert self.gan is not None
            gan = self.gan
            terms.append(("G_gan", self.opt.lambda_gan, lambda: gan.generator_loss(D, self._d_input(l_norm, ab_fake))))
        if self.reconstruction is not None:
            rec = self.reconstruction
            terms.append(("G_l1", self.opt.lambda_l1, lambda: rec(ab_fake.float(), ab_real)))
        losses.update(generator_step(self.optimizers["G"], ab_fake, terms, ctx))
        return losses

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        x, y = batch["input"], batch["target"]
        return [[("input", x), ("output", sample_outputs(self.networks["G"], x, self.opt.test_mode)), ("target", y)]]

    def exports(self) -> list[ExportSpec]:
        return [ExportSpec(name="G", network="G", direction=self.direction, input_domain="grey",
                           output_domain="colour", test_mode=self.opt.test_mode)]


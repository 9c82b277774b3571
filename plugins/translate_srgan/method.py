"""The srgan method (Ledig et al., CVPR 2017): SRResNet pre-training with MSE, then SRGAN.

Steps ``0 .. pretrain_steps - 1`` (the engine's optimizer-step counter, ``StepContext.step``)
train the generator alone on the pixel-wise MSE (the paper's SRResNet). From step
``pretrain_steps`` on, each batch makes one discriminator step (the ``adversarial`` loss, by
default ``vanilla``: the paper's log loss, sigmoid in the loss) and one generator step on
``lambda_content * content + lambda_adv * adversarial`` (paper: the VGG54 feature loss and 1e-3;
``[losses.content]``, by default ``l2``). The phase is a function of the step counter only, so a
resumed run switches at the same step with no state of its own. With ``reset_optimizer`` the
generator's Adam moments are cleared at the first GAN step, as when SRGAN is trained as a new run
from the SRResNet weights (the paper's procedure).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from translate.api import ExportSpec, Method, StepContext, set_requires_grad, unwrap

from .options import SRGANOptions


class SRGAN(Method):
    """SRResNet pre-training, then SRGAN (see the module doc)."""

    data_keys = ("input", "target")
    limitations = (
        "A super-resolution model learns the degradation it was trained on (bicubic downsampling of clean "
        "images): blurred, noisy or compressed inputs are not restored.",
        "The GAN phase trades PSNR for sharper, more natural-looking texture: fine detail it invents is "
        "plausible, not measured.",
    )

    def __init__(self, options: SRGANOptions, ctx: Any) -> None:
        super().__init__()
        self.opt = options
        c_in, c_out = ctx.channels["input"], ctx.channels["target"]
        G = ctx.generator(in_channels=c_in, out_channels=c_out, default="srresnet")
        self.networks["G"] = G
        betas = (options.beta1, options.beta2)
        self.optimizers["G"] = ctx.adam(G.parameters(), options.lr, betas)
        self.gan = self.content = None
        if options.adversarial:
            D = ctx.discriminator(in_channels=c_out, default="srgan_discriminator")
            self.networks["D"] = D
            self.optimizers["D"] = ctx.adam(D.parameters(), options.lr_d or options.lr, betas)
            self.gan = ctx.loss("adversarial", default="vanilla")
            self.content = ctx.loss("content", default="l2")

    def phase(self, step: int) -> str:
        """``"pretrain"`` (MSE only) or ``"gan"`` for the 0-based optimizer step ``step``."""
        return "gan" if self.gan is not None and step >= self.opt.pretrain_steps else "pretrain"

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        x, y = batch["input"], batch["target"]
        G, opt_g = self.networks["G"], self.optimizers["G"]
        if self.phase(ctx.step) == "pretrain":
            opt_g.zero_grad(set_to_none=True)
            with ctx.autocast():
                mse = F.mse_loss(G(x).float(), y.float())
            ctx.backward(mse)
            opt_g.step()
            return {"G": mse.detach(), "G_mse": mse.detach()}
        if self.opt.reset_optimizer and self.opt.pretrain_steps and ctx.step == self.opt.pretrain_steps:
            opt_g.state.clear()  # every micro-batch of that one step: no update happens in between
        return self._gan_step(x, y, ctx)

    def _gan_step(self, x: torch.Tensor, y: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        assert self.gan is not None and self.content is not None
        G, D = self.networks["G"], self.networks["D"]
        opt_g, opt_d = self.optimizers["G"], self.optimizers["D"]
        with ctx.autocast():
            fake = G(x)
        set_requires_grad(D, True)
        opt_d.zero_grad(set_to_none=True)
        with ctx.autocast():
            loss_d = self.gan.discriminator_loss(D, y, fake.detach())
        ctx.backward(loss_d)
        opt_d.step()
        set_requires_grad(D, False)  # no D gradients from the G step
        opt_g.zero_grad(set_to_none=True)
        with ctx.autocast():
            content = self.content(fake.float(), y.float())
            adv = self.gan.generator_loss(D, fake)
            loss_g = self.opt.lambda_content * content + self.opt.lambda_adv * adv
        ctx.backward(loss_g)
        opt_g.step()
        with torch.no_grad():
            mse = F.mse_loss(fake.detach().float(), y.float())
        return {"D": loss_d.detach(), "G": loss_g.detach(), "G_content": content.detach(),
                "G_adv": adv.detach(), "G_mse": mse}

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        G = copy.deepcopy(unwrap(self.networks["G"])).eval()
        x, y = batch["input"], batch["target"]
        with torch.no_grad():
            fake = G(x.to(next(G.parameters()).dtype)).float()
        bicubic = F.interpolate(x.float(), size=fake.shape[-2:], mode="bicubic", align_corners=False)
        return [[("input", x), ("bicubic", bicubic.clamp(-1, 1)), ("output", fake), ("target", y)]]

    def exports(self) -> list[ExportSpec]:
        return [ExportSpec(name="G", network="G", direction="AtoB", input_domain="low_resolution",
                           output_domain="high_resolution", test_mode="eval")]

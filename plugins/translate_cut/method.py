"""The CUT / FastCUT training method (Park, Efros, Zhang, Zhu; ECCV 2020), on translate's public hooks.

One step, in the authors' order (``CUTModel.optimize_parameters``):

1. ``fake = G(real)`` where ``real`` is ``A`` (and ``B`` after it when the identity term is on, one
   batch); with flip-equivariance, ``real`` is mirrored with probability 1/2.
2. D step: LSGAN on ``B`` (real) and ``G(A)`` (detached), halved.
3. G and MLP-head step, with D frozen: ``lambda_gan * GAN(G(A))`` plus PatchNCE(A, G(A)), averaged
   with PatchNCE(B, G(B)) when the identity term is on. PatchNCE is ``lambda_nce`` times the mean
   over ``nce_layers`` of the InfoNCE loss of the sampled patches (:mod:`.patchnce`).

Networks (prepared, checkpointed and resumed by the engine): ``G``, ``D`` and ``F``, the MLP heads
(absent with ``mlp = false``: nothing to train), each with its own Adam. The authors create F on the first batch because its input widths come
from G's features; here G states them (:class:`~.features.FeatureEncoder`), so F is built with the
method and the engine can prepare, checkpoint and resume it like any other network.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

from translate.api import (
    ExportSpec,
    Method,
    StepContext,
    check_feature_layers,
    feature_encoder,
    set_requires_grad,
    unwrap,
)

from .options import CUTOptions
from .patchnce import PatchSampleMLP


class CUT(Method):
    """One generator A -> B, one discriminator, the MLP heads of PatchNCE; D step, then G and F step."""

    data_keys = ("A", "B")
    limitations = (
        "CUT keeps the content of each input patch and changes its appearance; like CycleGAN it changes "
        "texture and colour far more than shape, and inputs unlike the training domain may be left unchanged "
        "or get artefacts.",
    )

    def __init__(self, options: CUTOptions, ctx: Any) -> None:
        super().__init__()
        self.opt = options
        self.lambda_nce, self.nce_idt, self.flip = options.preset()
        self.src, self.dst = ("A", "B") if options.direction == "AtoB" else ("B", "A")
        c_in, c_out = ctx.channels[self.src], ctx.channels[self.dst]
        if self.nce_idt and c_in != c_out:
            raise ctx.fail("method.options.nce_idt", f"the identity term feeds {self.dst} images ({c_out} channels) "
                           f"to the generator, which takes {c_in}; set nce_idt = false for domains with different "
                           "channel counts")
        G = ctx.generator(in_channels=c_in, out_channels=c_out, default="cut_resnet_9blocks")
        encoder = feature_encoder(G)
        if encoder is None:
            raise ctx.fail("generator.name", f"{type(G).__name__} does not expose intermediate features (the "
                           "translate.FeatureEncoder contract), which PatchNCE needs; use "
                           "cut_resnet_9blocks, cut_resnet_6blocks or cut_resnet")
        try:
            self.layers = check_feature_layers(encoder, options.nce_layers, key="method.options.nce_layers")
        except ValueError as err:
            key, _, message = str(err).partition(": ")
            raise ctx.fail(key, message) from None
        D = ctx.discriminator(in_channels=c_out, default="cut_patchgan")
        heads = PatchSampleMLP(encoder.feature_channels(self.layers), mlp_channels=options.mlp_channels,
                               use_mlp=options.mlp, init=options.mlp_init, init_gain=options.mlp_init_gain)
        self.networks.update({"G": G, "D": D})
        self._fixed_heads = None if options.mlp else heads  # without MLPs: nothing to train or checkpoint
        if options.mlp:
            self.networks["F"] = heads
        betas, reference = (options.beta1, options.beta2), options.optimizer == "reference"
        for name, net in self.networks.items():
            self.optimizers[name] = ctx.adam(net.parameters(), options.lr, betas, reference=reference)
        self.gan = ctx.loss("adversarial", default="lsgan")
        self.nce = ctx.loss("nce", default="patchnce")

    # --- one step ----------------------------------------------------------------------------------

    def train_step(self, batch: dict[str, Any], ctx: StepContext) -> dict[str, torch.Tensor]:
        o = self.opt
        real_a, real_b = batch[self.src], batch[self.dst]
        G, D = self.networks["G"], self.networks["D"]
        n = real_a.shape[0]
        real = torch.cat([real_a, real_b]) if self.nce_idt else real_a
        flipped = self.flip and self.draw_flip()
        if flipped:
            real = torch.flip(real, [3])
        with ctx.autocast():
            fake = G(real)
        fake_b, idt_b = fake[:n], fake[n:]

        set_requires_grad(D, True)
        self._zero("D")
        with ctx.autocast():
            loss_d = self.gan.discriminator_loss(D, real_b, fake_b.detach())
        ctx.backward(loss_d)
        self._step("D")

        set_requires_grad(D, False)
        self._zero("G", "F")
        with ctx.autocast():
            gan = self.gan.generator_loss(D, fake_b) if o.lambda_gan > 0 else fake_b.new_zeros(())
            nce = self.patch_nce(real_a, fake_b, flipped)
            loss_g = o.lambda_gan * gan
            losses = {"D": loss_d.detach(), "G_GAN": gan.detach(), "NCE": nce.detach()}
            if self.nce_idt:
                nce_y = self.patch_nce(real_b, idt_b, flipped)
                losses["NCE_Y"] = nce_y.detach()
                loss_g = loss_g + 0.5 * (nce + nce_y)
            else:
                loss_g = loss_g + nce
        ctx.backward(loss_g)
        self._step("G", "F")
        losses["G"] = loss_g.detach()
        return losses

    def patch_nce(self, src: torch.Tensor, out: torch.Tensor, flipped: bool = False) -> torch.Tensor:
        """``lambda_nce`` x the mean over ``nce_layers`` of PatchNCE between ``src`` (keys) and ``out`` (queries).

        ``out`` was made from the mirrored ``src`` when ``flipped``: its features are mirrored back.
        """
        G = self.networks["G"]
        heads = self._fixed_heads if self._fixed_heads is not None else self.networks["F"]
        feat_q = G(out, layers=self.layers)
        if flipped:
            feat_q = [torch.flip(f, [3]) for f in feat_q]
        feat_k = G(src, layers=self.layers)
        num = self.nce.num_patches
        keys, ids = heads(feat_k, num)
        queries, _ = heads(feat_q, num, ids)
        total = sum(self.nce(q, k) for q, k in zip(queries, keys))
        return total * self.lambda_nce / len(self.layers)

    def draw_flip(self) -> bool:
        """Whether this step mirrors its input (probability 1/2, from torch's global generator: resumable)."""
        return bool(torch.rand(()) < 0.5)

    def _zero(self, *names: str) -> None:
        for name in names:
            if name in self.optimizers:
                self.optimizers[name].zero_grad(set_to_none=True)

    def _step(self, *names: str) -> None:
        for name in names:
            if name in self.optimizers:
                self.optimizers[name].step()

    # --- samples, export -----------------------------------------------------------------------------

    def sample(self, batch: dict[str, Any]) -> list[list[tuple[str, torch.Tensor]]]:
        G = copy.deepcopy(unwrap(self.networks["G"]))
        G.train(self.opt.test_mode == "train")
        dtype = next(G.parameters()).dtype
        real_a, real_b = batch[self.src].to(dtype), batch[self.dst].to(dtype)
        rows = [[(f"real_{self.src}", real_a), (f"fake_{self.dst}", G(real_a).float())]]
        if real_a.shape[1] == real_b.shape[1]:
            rows.append([(f"real_{self.dst}", real_b), (f"idt_{self.dst}", G(real_b).float())])
        return rows

    def exports(self) -> list[ExportSpec]:
        o = self.opt
        names = {"A": o.name_a, "B": o.name_b}
        return [ExportSpec(name=o.direction, network="G", direction=o.direction, input_domain=names[self.src],
                           output_domain=names[self.dst], test_mode=o.test_mode)]


__all__ = ["CUT"]

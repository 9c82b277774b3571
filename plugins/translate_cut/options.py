"""Options models of the CUT plugin: networks, the PatchNCE loss and the method (pydantic only, no torch).

The defaults are those of the authors' code (taesungp/contrastive-unpaired-translation) for CUT;
``mode = "fastcut"`` switches the method's defaults to FastCUT (see :class:`CUTOptions`).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from translate.api import Options

NormName = Literal["instance", "batch", "none"]
PaddingName = Literal["reflect", "replicate", "zero"]
InitName = Literal["normal", "xavier", "kaiming"]


class CUTResnetOptions(Options):
    """A ResNet generator of fixed depth with the authors' anti-aliased sampling (``cut_resnet_9blocks``)."""

    ngf: int = Field(64, ge=1, le=1024, description="filters of the first layer; the residual blocks have ngf * 4")
    norm: NormName = Field("instance", description="normalisation layer (the authors' normG: instance, no affine)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout inside each residual block (the authors: off)")
    padding: PaddingName = Field("reflect", description="padding of the residual blocks' 3x3 convs")
    antialias: bool = Field(
        True, description="downsample by a stride-1 conv then a [1,2,1] blur with stride 2 (the authors' default); "
        "false: a stride-2 conv (their --no_antialias)")
    antialias_up: bool = Field(
        True, description="upsample by a fixed [1,3,3,1] transposed blur then a stride-1 conv (the authors' "
        "default); false: a learned stride-2 transposed conv (their --no_antialias_up)")
    init: InitName = Field("xavier", description="weight init (the authors' CUT: xavier)")
    init_gain: float = Field(0.02, gt=0, description="gain of the xavier init (std of the normal init)")


class ConfigurableCUTResnetOptions(CUTResnetOptions):
    """A CUT ResNet generator whose depth a recipe chooses (``cut_resnet``)."""

    n_blocks: int = Field(9, ge=1, le=64, description="residual blocks (9 for 256x256 images, 6 for 128x128)")
    n_downsampling: int = Field(2, ge=1, le=6, description="downsamplings (the authors: 2); H, W multiples of "
                                                           "2**n_downsampling")


class CUTPatchGANOptions(Options):
    """PatchGAN with the authors' anti-aliased downsampling (``cut_patchgan``)."""

    n_layers: int = Field(3, ge=1, le=8, description="downsampling conv layers (3: the 70x70 PatchGAN)")
    ndf: int = Field(64, ge=1, le=1024, description="filters of the first layer")
    norm: NormName = Field("instance", description="normalisation layer (the authors' normD: instance)")
    antialias: bool = Field(True, description="stride-1 conv then a [1,2,1] blur with stride 2 (the authors' "
                                              "default); false: stride-2 convs as pix2pix/CycleGAN")
    init: InitName = Field("xavier", description="weight init (the authors' CUT: xavier)")
    init_gain: float = Field(0.02, gt=0, description="gain of the xavier init (std of the normal init)")


class PatchNCEOptions(Options):
    """PatchNCE (InfoNCE over image patches) of Park et al. 2020."""

    temperature: float = Field(0.07, gt=0, le=10, description="InfoNCE temperature tau (the authors' nce_T)")
    num_patches: int = Field(256, ge=1, le=65536,
                             description="positions sampled per layer and image, the same for query and key "
                                         "(the authors' num_patches)")
    negatives: Literal["image", "batch"] = Field(
        "image", description="'image': negatives are the other patches of the same image (CUT, FastCUT); "
        "'batch': of every image in the batch (the authors' nce_includes_all_negatives_from_minibatch)")


class CUTOptions(Options):
    """CUT and FastCUT (Park, Efros, Zhang, Zhu; ECCV 2020), the authors' presets.

    ``mode`` picks the preset: ``"cut"`` (lambda_nce 1, identity NCE on B, no flip) or ``"fastcut"``
    (lambda_nce 10, no identity term, flip-equivariance). ``lambda_nce``, ``nce_idt`` and
    ``flip_equivariance`` left unset take the preset's value; set, they override it (as the
    authors' command-line flags do).
    """

    loss_roles: ClassVar[tuple[str, ...]] = ("adversarial", "nce")
    validation_rules: ClassVar[tuple[str, ...]] = (
        "nce_layers must be strictly increasing and name feature layers the generator offers",
    )

    mode: Literal["cut", "fastcut"] = Field("cut", description="the authors' preset: 'cut' or 'fastcut'")
    lambda_gan: float = Field(1.0, ge=0, description="weight of the adversarial loss")
    lambda_nce: float | None = Field(None, gt=0, description="weight of PatchNCE (preset: CUT 1, FastCUT 10)")
    nce_idt: bool | None = Field(
        None, description="identity PatchNCE term on domain B images, NCE(y, G(y)) (preset: CUT on, FastCUT off)")
    flip_equivariance: bool | None = Field(
        None, description="flip the generator's input half of the time and its features back "
                          "(preset: FastCUT on, CUT off)")
    nce_layers: list[int] = Field(
        [0, 4, 8, 12, 16], min_length=1, max_length=32,
        description="generator feature layers PatchNCE compares (indices of its module list, see docs/cut.md)")
    mlp: bool = Field(True, description="project sampled features with a 2-layer MLP per layer (the authors' "
                                        "netF mlp_sample); false: L2-normalised features only (netF sample)")
    mlp_channels: int = Field(256, ge=1, le=4096, description="width of the MLP heads (the authors' netF_nc)")
    mlp_init: InitName = Field("xavier", description="init of the MLP heads (the authors': as the networks)")
    mlp_init_gain: float = Field(0.02, gt=0, description="gain of the MLP heads' init")
    lr: float = Field(2e-4, gt=0, description="Adam learning rate of G, D and the MLP heads")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2")
    optimizer: Literal["fused", "reference"] = Field(
        "fused", description="Adam implementation: 'fused' (fast) or 'reference' (torch.optim.Adam with its "
                             "defaults, as the authors' code)")
    direction: Literal["AtoB", "BtoA"] = Field("AtoB", description="translate A to B, or B to A (swaps the domains)")
    name_a: str = Field("A", min_length=1, description="name of domain A (recorded in the model, e.g. 'horse')")
    name_b: str = Field("B", min_length=1, description="name of domain B (e.g. 'zebra')")
    test_mode: Literal["eval", "train"] = Field("eval", description="test-time mode recorded in the model")

    @field_validator("nce_layers")
    @classmethod
    def _increasing(cls, layers: list[int]) -> list[int]:
        if any(i < 0 for i in layers) or any(b <= a for a, b in zip(layers, layers[1:])):
            raise ValueError(f"must be non-negative and strictly increasing, got {layers}")
        return layers

    def preset(self) -> tuple[float, bool, bool]:
        """``(lambda_nce, nce_idt, flip_equivariance)`` after the preset of ``mode``."""
        fast = self.mode == "fastcut"
        lam = self.lambda_nce if self.lambda_nce is not None else (10.0 if fast else 1.0)
        idt = self.nce_idt if self.nce_idt is not None else not fast
        flip = self.flip_equivariance if self.flip_equivariance is not None else fast
        return lam, idt, flip

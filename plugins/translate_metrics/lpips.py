"""LPIPS (Zhang et al. 2018) with torchmetrics' network, its backbone read from a local torchvision weights file.

torchmetrics' LPIPS class would fetch the ImageNet backbone (AlexNet, VGG16 or SqueezeNet 1.1) from
download.pytorch.org on first use; translate builds the same network (torchmetrics' ``_NoTrainLpips``)
with an empty backbone instead, fills the backbone from the file :func:`translate.api.resolve_weights`
finds (every tensor must be there: never random weights) and keeps torchmetrics' shipped linear
calibration layers (the "v0.1" weights of the LPIPS authors).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from translate.api import (
    EvalBatch,
    Metric,
    MetricContext,
    ModelFileError,
    TranslateError,
    file_sha256,
    load_weights,
    resolve_weights,
)

from .common import check_pair, check_rgb_context, full_precision, library, option_path, rgb, value
from .options import LPIPSOptions

#: net option -> (torchvision architecture, weights file name); the files are at download.pytorch.org/models/.
BACKBONES = {
    "alex": ("alexnet", "alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16", "vgg16-397923af.pth"),
    "squeeze": ("squeezenet1_1", "squeezenet1_1-b8a52dc0.pth"),
}
ORIGIN = "https://download.pytorch.org/models/"


def build_network(net: str, path: Path) -> torch.nn.Module:
    """torchmetrics' LPIPS network for ``net`` with its backbone's tensors from ``path`` (a torchvision file)."""
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    module = _NoTrainLpips(net=net, pretrained=True, pnet_rand=True)  # shipped linear layers, empty backbone
    state = load_weights(path)
    wanted = module.net.state_dict()
    loaded, problems = {}, []
    for key, tensor in wanted.items():
        source = "features." + key.split(".", 1)[1]  # slice3.6.weight -> features.6.weight
        found = state.get(source)
        if found is None:
            problems.append(f"{source} is missing")
        elif found.shape != tensor.shape:
            problems.append(f"{source} has shape {tuple(found.shape)}, expected {tuple(tensor.shape)}")
        else:
            loaded[key] = found
    if problems:
        raise ModelFileError(f"{path}: not the torchvision {BACKBONES[net][0]} ImageNet weights LPIPS({net}) needs: "
                             f"{'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}; expected "
                             f"{BACKBONES[net][1]} from {ORIGIN}{BACKBONES[net][1]}")
    module.net.load_state_dict(loaded, strict=True)
    return module.eval()


def linear_layers_file(net: str) -> Path:
    """The file of torchmetrics' LPIPS calibration layers for ``net``."""
    from torchmetrics.functional.image import lpips

    return Path(inspect.getfile(lpips)).parent / "lpips_models" / f"{net}.pth"


class LPIPS(Metric):
    """Mean LPIPS distance between each output and its ground truth; value ``lpips`` (0 for identical images)."""

    needs_aligned = True
    larger_is_better = False

    def __init__(self, options: LPIPSOptions, ctx: MetricContext) -> None:
        arch, filename = BACKBONES[options.net]
        self.path = resolve_weights(options.weights, filename=filename, what=f"the {arch} backbone of LPIPS",
                                    origin=ORIGIN + filename, option=option_path(ctx, "lpips", "weights"))
        self.net_name = options.net
        self.net = build_network(options.net, self.path).to(ctx.device)
        self.device = ctx.device
        self.reset()

    def update(self, batch: EvalBatch) -> None:
        from torchmetrics.functional.image.lpips import _lpips_update

        check_pair(batch, "lpips")
        fake = rgb(batch.fake.float().clamp(-1, 1), "lpips").to(self.device)
        real = rgb(batch.real.float().clamp(-1, 1), "lpips").to(self.device)
        with torch.no_grad(), full_precision(self.device):
            scores = _lpips_update(fake, real, self.net, normalize=False).reshape(-1)
        self.total = self.total + scores.double().sum()
        self.count += scores.numel()

    def compute(self) -> dict[str, float]:
        if self.count == 0:
            raise TranslateError("metric lpips: no images were added")
        return {"lpips": value(self.total / self.count)}

    def reset(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64, device=self.device)
        self.count = 0

    def protocol(self) -> dict[str, Any]:
        lin = linear_layers_file(self.net_name)
        return {
            "library": library(), "net": self.net_name, "backbone": BACKBONES[self.net_name][0],
            "weights_file": self.path.name, "weights_sha256": file_sha256(self.path),
            "weights_published": file_sha256(self.path).startswith(BACKBONES[self.net_name][1].rsplit("-", 1)[1][:8]),
            "linear_layers_file": f"torchmetrics/functional/image/lpips_models/{lin.name}",
            "linear_layers_sha256": file_sha256(lin), "images": "[-1, 1], grey repeated to RGB",
            "average": "mean of per-image LPIPS (spatially averaged)",
        }


def build_lpips(options: LPIPSOptions, ctx: MetricContext) -> LPIPS:
    """The ``lpips`` metric."""
    check_rgb_context(ctx, "lpips")
    return LPIPS(options, ctx)

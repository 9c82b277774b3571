"""FCN-8s (Long, Shelhamer, Darrell 2015) in the Caffe layout of the pix2pix authors' Cityscapes model.

The layout follows the authors' ``deploy.prototxt``: VGG-16 convolutions (3x3, padding 1) with 100
pixels of zero padding on the first one, 2x2 max pooling that rounds up (Caffe's pooling), fc6 as
a 7x7 and fc7 as a 1x1 convolution, 1x1 score layers on fc7, pool4 and pool3, learned 2x, 2x and
8x transposed convolutions without bias, and crops at offsets 5, 9 and 31 that align the maps.
Parameter names are the Caffe layer names, except ``fc6_cs``/``fc7_cs`` which are ``fc6``/``fc7``
(see :data:`CAFFE_NAMES`). No pretrained weights, no network: :func:`build_fcn8s` refuses to run
without the converted weights file.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from translate.api import ModelFileError, file_sha256, load_weights, resolve_weights

from .cityscapes import CLASS_NAMES
from .options import FCN8sOptions

WEIGHTS_FILE = "fcn8s_cityscapes.safetensors"
CAFFEMODEL_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix_extra/fcn-8s-cityscapes.caffemodel"
ORIGIN = (f"the pix2pix authors' Caffe model {CAFFEMODEL_URL} (fcn-8s-cityscapes.caffemodel, about 512 MB), "
          f"converted with `translate convert-fcn8s fcn-8s-cityscapes.caffemodel "
          f"{WEIGHTS_FILE}`")

#: Caffe layer name -> this module's parameter prefix (``<prefix>.weight``, ``<prefix>.bias``).
CAFFE_NAMES: dict[str, str] = {
    **{f"conv{b}_{i}": f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)) for i in range(1, n + 1)},
    "fc6_cs": "fc6", "fc7_cs": "fc7", "score_fr": "score_fr", "score_pool4": "score_pool4",
    "score_pool3": "score_pool3", "upscore2": "upscore2", "upscore_pool4": "upscore_pool4", "upscore8": "upscore8",
}
#: Layers that have no bias blob (the transposed convolutions).
NO_BIAS = ("upscore2", "upscore_pool4", "upscore8")
_BLOCKS = ((1, 2, 1), (2, 2, 2), (3, 3, 4), (4, 3, 8), (5, 3, 8))  # (block, convs, width multiple)


class FCN8s(nn.Module):
    """FCN-8s mapping ``(N, 3, H, W)`` RGB in [-1, 1] to ``(N, K, H, W)`` class logits.

    The input is taken back to 0..255, turned to BGR and the weights' per-channel means are
    subtracted, as the Caffe model was fed. Any H, W >= 1 works (the 100-pixel padding makes
    the crops fit).

    Example:
        >>> net = FCN8s(num_classes=3, width=2)
        >>> net(torch.zeros(1, 3, 32, 48)).shape
        torch.Size([1, 3, 32, 48])
    """

    def __init__(self, num_classes: int = 20, *, width: int = 64, mean_bgr: list[float] | None = None,
                 class_names: list[str] | None = None) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else default_class_names(num_classes)
        mean = torch.tensor(mean_bgr if mean_bgr is not None else [0.0, 0.0, 0.0], dtype=torch.float32)
        self.register_buffer("mean_bgr", mean.view(1, 3, 1, 1), persistent=False)
        channels = 3
        for block, convs, mult in _BLOCKS:
            for i in range(1, convs + 1):
                pad = 100 if (block, i) == (1, 1) else 1
                self.add_module(f"conv{block}_{i}", nn.Conv2d(channels, width * mult, 3, padding=pad))
                channels = width * mult
        fc = width * 64
        self.fc6 = nn.Conv2d(channels, fc, 7)
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.score_fr = nn.Conv2d(fc, num_classes, 1)
        self.score_pool4 = nn.Conv2d(width * 8, num_classes, 1)
        self.score_pool3 = nn.Conv2d(width * 4, num_classes, 1)
        self.upscore2 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, bias=False)
        self.upscore_pool4 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, bias=False)
        self.upscore8 = nn.ConvTranspose2d(num_classes, num_classes, 16, stride=8, bias=False)

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] RGB -> the Caffe input: 0..255 BGR minus the means."""
        return ((x.float() + 1.0) * 127.5).flip(1) - self.mean_bgr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"FCN-8s expects (N, 3, H, W) RGB images, got shape {tuple(x.shape)}")
        h = self.preprocess(x)
        pools = []
        for block, convs, _ in _BLOCKS:
            for i in range(1, convs + 1):
                h = F.relu(getattr(self, f"conv{block}_{i}")(h))
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            pools.append(h)
        h = F.relu(self.fc7(F.relu(self.fc6(h))))  # Caffe's deploy net has no dropout
        up = self.upscore2(self.score_fr(h))
        up = self.upscore_pool4(up + _crop(self.score_pool4(pools[3]), up, 5))
        up = self.upscore8(up + _crop(self.score_pool3(pools[2]), up, 9))
        return _crop(up, x, 31)


def _crop(big: torch.Tensor, like: torch.Tensor, offset: int) -> torch.Tensor:
    """Caffe's Crop layer on H and W: ``big[..., offset:offset+h, offset:offset+w]`` with like's h, w."""
    h, w = like.shape[-2:]
    if big.shape[-2] < offset + h or big.shape[-1] < offset + w:
        raise ValueError(f"FCN-8s crop at offset {offset} does not fit: {tuple(big.shape[-2:])} < "
                         f"{offset}+{(h, w)}")
    return big[..., offset:offset + h, offset:offset + w]


def default_class_names(num_classes: int) -> list[str]:
    """The Cityscapes class names for the first 19 channels, "void" for a 20th, ``class_<i>`` beyond."""
    names = list(CLASS_NAMES[:num_classes])
    if len(names) < num_classes:
        names.append("void")
    names.extend(f"class_{i}" for i in range(len(names), num_classes))
    return names


def build_fcn8s(options: FCN8sOptions) -> FCN8s:
    """The registry factory: FCN-8s with the converted weights loaded (never random ones).

    Raises:
        WeightsMissing: no weights file (the message says how to make one from the authors' model).
        ModelFileError: the file does not hold FCN-8s weights of this shape.
    """
    path = resolve_weights(options.weights, filename=WEIGHTS_FILE, what="the FCN-8s Cityscapes segmenter (fcn8s)",
                           origin=ORIGIN, option="weights")
    net = FCN8s(options.num_classes, width=options.width, mean_bgr=options.mean_bgr, class_names=options.class_names)
    load_into(net, load_weights(path), path)
    net.weights_path = str(path)
    net.weights_sha256 = file_sha256(path)
    return net.eval().requires_grad_(False)


def load_into(net: FCN8s, state: dict[str, torch.Tensor], source: object) -> None:
    """Load a state dict strictly, naming what is missing, unexpected or of the wrong shape."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})" for k, v in own.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        parts = [f"missing {', '.join(missing[:6])}" if missing else "",
                 f"unexpected {', '.join(unexpected[:6])}" if unexpected else "",
                 f"wrong shape {', '.join(wrong[:4])}" if wrong else ""]
        raise ModelFileError(f"{source}: not FCN-8s weights for num_classes={net.num_classes}, width="
                             f"{net.conv1_1.out_channels}: {'; '.join(p for p in parts if p)}")
    net.load_state_dict({k: v.float() for k, v in state.items()})

"""The Lab colour space of colorization (kornia: differentiable, on the tensors' device).

Model-space images are in [-1, 1] (sRGB values, as everywhere in translate). Lab is CIE L*a*b*
with the D65 white (``kornia.color.rgb_to_lab``): L in [0, 100], a and b within about
[-110, 110] for sRGB colours. The networks see them normalised: ``L / 50 - 1`` and
``ab / 110``, both in [-1, 1].

The grey image of a colour image is the sRGB encoding of its relative luminance Y (the Y of
CIE XYZ): a grey ``(g, g, g)`` has Y = linear(g), so its L equals the colour image's L. That is
what the data sets serve as input and what :func:`lightness` reads back, so the L the
colorizer composes its output with is the L of the image it was trained to colour.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

L_SCALE = 50.0
"""L in [0, 100] is normalised as ``L / L_SCALE - 1``."""
AB_SCALE = 110.0
"""a and b are normalised as ``ab / AB_SCALE``: sRGB colours have |a|, |b| below 110."""


@contextlib.contextmanager
def _float32(x: torch.Tensor) -> Iterator[None]:
    """Autocast off around the colour conversions: in bf16 kornia's L is off by up to about 2 units.

    Nothing is entered when autocast is off (inference, evaluation, ONNX export), so the traced
    graph is the plain one.
    """
    device = x.device.type
    if torch.is_autocast_enabled(device):
        with torch.autocast(device, enabled=False):
            yield
    else:
        yield


def _check(x: torch.Tensor, what: str) -> None:
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"{what}: expected (N, 1, H, W) grey or (N, 3, H, W) RGB images, got shape {tuple(x.shape)}")


def lightness(image: torch.Tensor) -> torch.Tensor:
    """L in [0, 100], ``(N, 1, H, W)``, of a grey (1 channel) or RGB (3 channels) image in [-1, 1]."""
    import kornia

    _check(image, "lightness")
    with _float32(image):
        rgb = (image.float().clamp(-1, 1) + 1) / 2
        if rgb.shape[1] == 1:
            rgb = rgb.expand(-1, 3, -1, -1)
        return kornia.color.rgb_to_lab(rgb)[:, :1]


def to_lab(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L / 50 - 1, ab / 110)`` of RGB images in [-1, 1]: ``(N, 1, H, W)`` and ``(N, 2, H, W)``."""
    import kornia

    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"to_lab: expected (N, 3, H, W) RGB images, got shape {tuple(rgb.shape)}")
    with _float32(rgb):
        lab = kornia.color.rgb_to_lab((rgb.float().clamp(-1, 1) + 1) / 2)
    return lab[:, :1] / L_SCALE - 1, lab[:, 1:] / AB_SCALE


def to_rgb(l_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] from normalised L and ab (out-of-gamut colours clipped to the sRGB cube)."""
    import kornia

    with _float32(l_norm):
        lab = torch.cat([(l_norm.float() + 1) * L_SCALE, ab_norm.float() * AB_SCALE], dim=1)
        return kornia.color.lab_to_rgb(lab, clip=True) * 2 - 1


def grey_of(rgb01: torch.Tensor) -> torch.Tensor:
    """The grey ``(..., 1, H, W)`` in [0, 1] with the Lab L of ``rgb01`` (``(..., 3, H, W)`` in [0, 1]).

    The sRGB encoding of the relative luminance Y, so that :func:`lightness` of the grey equals
    the L of the colour image (up to float rounding).
    """
    import kornia

    y = kornia.color.rgb_to_xyz(kornia.color.rgb_to_linear_rgb(rgb01.clamp(0, 1)))[..., 1:2, :, :]
    return kornia.color.linear_rgb_to_rgb(y.clamp(0, 1).expand(*y.shape[:-3], 3, *y.shape[-2:]))[..., :1, :, :]

"""Every registered generator and discriminator, built with its smoke options, runs forward and backward.

Parametrised over the built-in plugins' registry at collection time, so a built-in component
added later is covered automatically, whatever else is installed (third-party plugins run the
same checks in their own tests; the example plugin's are in tests/translate/plugin/test_plugins.py). The checks
are :mod:`translate.testing`'s: output shapes, finite outputs in train and eval mode, and a
finite gradient for every trainable parameter.
"""

from __future__ import annotations

import pytest

from translate.plugin.loading import builtin_entry_points, load_plugins
from translate.testing import check_discriminator, check_generator, check_options_strict

REG = load_plugins(strict=True, entry_points=builtin_entry_points()).registry
DISCRIMINATOR_SIZE = 128  # five stride-2 layers plus two 4x4 stride-1 convs (patchgan_286) need > 64


def _discriminator_size(name: str) -> int:
    """128, rounded up to the discriminator's ``size_multiple`` if it declares one."""
    comp = REG.get("discriminator", name)
    multiple = getattr(comp.build(comp.smoke_options, in_channels=1), "size_multiple", 1)
    return multiple * -(-DISCRIMINATOR_SIZE // multiple)


@pytest.mark.parametrize("name", REG.names("generator"))
@pytest.mark.parametrize("channels", [(3, 3), (1, 2)], ids=["rgb-rgb", "gray-ab"])
def test_generator_smoke(name: str, channels: tuple[int, int]) -> None:
    comp = REG.get("generator", name)
    check_options_strict(comp)
    check_generator(comp, in_channels=channels[0], out_channels=channels[1], batch_size=2)


@pytest.mark.parametrize("name", REG.names("discriminator"))
def test_discriminator_smoke(name: str) -> None:
    comp = REG.get("discriminator", name)
    check_options_strict(comp)
    check_discriminator(comp, in_channels=6, batch_size=2, size=_discriminator_size(name))

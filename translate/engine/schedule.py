"""Learning-rate schedule of the reference pix2pix/CycleGAN code: constant, then linear decay."""

from __future__ import annotations


def linear_decay_factor(t: int, total: int, decay: int) -> float:
    """LR multiplier at 0-based epoch (or step) ``t`` of a run of ``total`` units.

    The first ``total - decay`` units keep the base rate; the last ``decay`` units
    decay linearly, as ``1 - max(0, t + 1 - constant) / (decay + 1)`` in the reference code.
    """
    if decay <= 0:
        return 1.0
    constant = total - decay
    return max(0.0, 1.0 - max(0, t + 1 - constant) / float(decay + 1))

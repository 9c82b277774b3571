"""A generator's test-time mode, shared by evaluation, inference and the plugin checks.

- ``eval``: dropout off, BatchNorm running statistics;
- ``train`` (the pix2pix paper): dropout on and BatchNorm statistics of the image itself, with
  dropout seeded per image by :func:`dropout_seed` so outputs do not depend on batching or order.

:func:`in_test_mode` puts a module in one of them and restores its mode and buffers afterwards.
"""

from __future__ import annotations

import contextlib
import zlib
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    import torch


def dropout_seed(seed: int, name: str) -> int:
    """The dropout seed of one image in train test mode, from the run's ``seed`` and the image's key (its name):
    the same rule in ``translate eval`` and ``translate infer`` (:class:`translate.inference.Translator`)."""
    return (seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**63)


@contextlib.contextmanager
def in_test_mode(module: "torch.nn.Module", mode: str) -> Iterator[None]:
    """Put ``module`` in its test mode; restore its mode and buffers (BatchNorm statistics) afterwards."""
    was_training = module.training
    saved = {k: v.detach().clone() for k, v in module.named_buffers()}
    module.train(mode == "train")
    try:
        yield
    finally:
        module.train(was_training)
        buffers = dict(module.named_buffers())
        for k, v in saved.items():
            buffers[k].copy_(v)

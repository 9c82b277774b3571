"""Reading the authors' ``ResnetGenerator`` checkpoints (pytorch-CycleGAN-and-pix2pix) into the ResNet generators.

For the authors' options the two networks hold the same tensors under the same names:
``model.<i>`` for the layers of one ``nn.Sequential`` (ReflectionPad2d(3) at 0, the 7x7 conv at 1
and its norm at 2, each stride-2 conv at ``4 + 3 * d`` with its norm after it, the residual blocks
from ``4 + 3 * n_downsampling`` on, then the transposed convs, ReflectionPad2d(3) and the last 7x7
conv), and ``model.<b>.conv_block.<j>`` inside a block (conv 1, norm 2, the second conv at 5, or 6
after the ``Dropout(0.5)`` the authors insert with ``use_dropout``). What a checkpoint cannot say
by names alone:

- its norm: BatchNorm layers have ``weight``/``bias``/running statistics; the authors' InstanceNorm
  has no tensors, but with it (and only with it) their convs carry a bias. Their ``norm = "none"``
  builds convs without any bias, which these generators do not (a conv without a following
  BatchNorm always has one here), so it is refused;
- the padding of the residual blocks: the authors always reflect.

:class:`AuthorsCheckpoint` gives :class:`~translate_cyclegan.resnet.ResnetGenerator` the methods
``translate convert`` asks every registered generator for.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from translate.api import ModelFileError

_STATS = ("running_mean", "running_var", "num_batches_tracked")
_KEY = re.compile(r"^model\.(\d+)\.(?:conv_block\.(\d+)\.)?([A-Za-z_]+)$")


def _fail(message: str) -> ModelFileError:
    return ModelFileError(f"not an authors' ResnetGenerator state dict: {message}")


def _conv(state: Mapping[str, Any], key: str, kernel: int) -> Any:
    w = state.get(key)
    if w is None or getattr(w, "ndim", 0) != 4 or tuple(w.shape[2:]) != (kernel, kernel):
        got = None if w is None else tuple(w.shape)
        raise _fail(f"{key} is {got}, expected a {kernel}x{kernel} convolution")
    return w


def resnet_layout(state: Mapping[str, Any]) -> dict[str, Any]:
    """``ngf``, ``n_blocks``, ``n_downsampling``, ``norm``, ``dropout`` and the channels of an authors' ResNet."""
    blocks: set[int] = set()
    for key in state:
        m = _KEY.match(key)
        if m is None:
            raise _fail(f"unexpected key {key!r} (expected model.<i>.<tensor> or model.<i>.conv_block.<j>.<tensor>)")
        if m.group(2) is not None:
            blocks.add(int(m.group(1)))
    if not blocks:
        raise _fail("it has no residual blocks (model.<i>.conv_block...)")
    first = _conv(state, "model.1.weight", 7)
    ngf = int(first.shape[0])
    if "model.2.weight" in state:
        norm = "batch"
    elif "model.1.bias" in state:
        norm = "instance"  # the authors give convs a bias exactly with InstanceNorm
    else:
        raise _fail("its convolutions have no bias and no norm follows them (the authors' norm 'none'), which "
                    "translate's ResNet generators cannot rebuild (they keep a bias where no BatchNorm follows)")
    start, n_blocks = min(blocks), len(blocks)
    if (start - 4) % 3 or start < 7 or sorted(blocks) != list(range(start, start + n_blocks)):
        raise _fail(f"residual blocks at model.{sorted(blocks)[0]}..{sorted(blocks)[-1]} are not where "
                    "stride-2 convolutions and consecutive blocks would put them")
    n_down = (start - 4) // 3
    for d in range(n_down):
        _conv(state, f"model.{4 + 3 * d}.weight", 3)
    second = state.get(f"model.{start}.conv_block.6.weight")  # the second conv after a Dropout, else a norm
    dropout = 0.5 if getattr(second, "ndim", 0) == 4 else 0.0
    _conv(state, f"model.{start}.conv_block.1.weight", 3)
    last = start + n_blocks + 3 * n_down + 1
    out = _conv(state, f"model.{last}.weight", 7)
    return {"ngf": ngf, "n_blocks": n_blocks, "n_downsampling": n_down, "norm": norm, "dropout": dropout,
            "in_channels": int(first.shape[1]), "out_channels": int(out.shape[0])}


def resnet_from_authors(state: Mapping[str, Any]) -> dict[str, Any]:
    """The authors' state dict under translate's names (the same), without InstanceNorm statistics.

    A BatchNorm saved before PyTorch 0.4 lacks ``num_batches_tracked``; it gets 0, as PyTorch's
    loader gives it.
    """
    import torch

    resnet_layout(state)
    out: dict[str, Any] = {}
    for key, value in state.items():
        module, _, tensor = key.rpartition(".")
        if tensor in _STATS and f"{module}.weight" not in state:
            continue
        out[key] = value
    for key in list(out):
        module, _, tensor = key.rpartition(".")
        if tensor == "running_mean" and f"{module}.num_batches_tracked" not in out:
            out[f"{module}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


class AuthorsCheckpoint:
    """What ``translate convert`` asks a ResNet generator (see :mod:`translate.models.convert.recognise`).

    ``fixed_depth`` is ``(n_blocks, n_downsampling)`` of a named variant (``resnet_9blocks``), None
    for the configurable ``resnet``.
    """

    fixed_depth: tuple[int, int] | None = None

    def infer_options_from_authors_state_dict(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Options of the registered generator that built this network which rebuild the authors' ``state``."""
        layout = resnet_layout(state)
        options: dict[str, Any] = {"ngf": layout["ngf"], "norm": layout["norm"], "dropout": layout["dropout"]}
        depth = (layout["n_blocks"], layout["n_downsampling"])
        if self.fixed_depth is None:
            options.update(n_blocks=depth[0], n_downsampling=depth[1])
        elif depth != self.fixed_depth:
            raise _fail(f"it has {depth[0]} residual blocks and {depth[1]} downsamplings, this generator has "
                        f"{self.fixed_depth[0]} and {self.fixed_depth[1]}")
        return options

    @staticmethod
    def from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
        """The authors' ``state`` under this network's tensor names."""
        return resnet_from_authors(state)

    def to_authors_state_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This network's state dict (or ``state``) under the authors' names: the same names."""
        return dict(self.state_dict() if state is None else state)  # type: ignore[attr-defined]

    @staticmethod
    def channels_from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, int]:
        """``{"in_channels": ..., "out_channels": ...}`` of an authors' ResNet state dict."""
        layout = resnet_layout(state)
        return {"in_channels": layout["in_channels"], "out_channels": layout["out_channels"]}


__all__ = ["AuthorsCheckpoint", "resnet_from_authors", "resnet_layout"]

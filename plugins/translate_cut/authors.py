"""Reading the CUT authors' generator checkpoints (``latest_net_G.pth``) for ``translate convert``.

Their ``ResnetGenerator`` and :class:`~translate_cut.resnet.CUTResnetGenerator` hold the same tensors
under the same names (``model.<i>.weight``, ``model.<i>.filt`` for the blur filters,
``model.<b>.conv_block.<j>.weight``), so the state dict maps as it is. What the names say:

- anti-aliased downsampling: a 3x3 ``filt`` buffer after each stride-1 conv (4 modules per
  downsampling, so the residual blocks start at ``4 + 4 * n_downsampling``); anti-aliased
  upsampling: a 4x4 ``filt`` buffer before each upsampling conv;
- the norm: BatchNorm layers have tensors; the authors' InstanceNorm has none, but only with it
  do their convs carry a bias (their ``norm = "none"`` has neither, which these generators do not
  rebuild: they keep a bias where no BatchNorm follows);
- dropout: the second conv of a residual block at ``conv_block.6`` instead of ``conv_block.5``.

A checkpoint without any anti-aliasing is the CycleGAN layout: the CycleGAN plugin's ResNet
generators read it, these refuse it (so that ``translate convert`` finds one reader, not two).
The MLP heads (``latest_net_F.pth``) are not needed to translate.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from translate.api import ModelFileError

_KEY = re.compile(r"^model\.(\d+)\.(?:conv_block\.(\d+)\.)?([A-Za-z_]+)$")
_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _fail(message: str) -> ModelFileError:
    return ModelFileError(f"not a CUT authors' ResnetGenerator state dict: {message}")


def cut_layout(state: Mapping[str, Any]) -> dict[str, Any]:
    """``ngf``, ``n_blocks``, ``n_downsampling``, ``norm``, ``dropout``, ``antialias``, ``antialias_up``, channels."""
    blocks, down, up = set(), [], []
    for key, value in state.items():
        m = _KEY.match(key)
        if m is None:
            raise _fail(f"unexpected key {key!r}")
        if m.group(2) is not None:
            blocks.add(int(m.group(1)))
        elif m.group(3) == "filt":
            size = tuple(getattr(value, "shape", ()))[2:]
            (down if size == (3, 3) else up if size == (4, 4) else []).append(int(m.group(1)))
    if not blocks:
        raise _fail("it has no residual blocks (model.<i>.conv_block...)")
    if not down and not up:
        raise _fail("it has no blur filters (model.<i>.filt): without anti-aliasing it is the CycleGAN layout, "
                    "which the resnet generators of the cyclegan plugin read")
    first = state.get("model.1.weight")
    if getattr(first, "ndim", 0) != 4:
        raise _fail("model.1.weight is not a convolution")
    if "model.2.weight" in state:
        norm = "batch"
    elif "model.1.bias" in state:
        norm = "instance"
    else:
        raise _fail("its convolutions have no bias and no norm follows them (the authors' norm 'none'), which "
                    "translate's CUT generators cannot rebuild")
    start, n_blocks = min(blocks), len(blocks)
    per_down = 4 if down else 3
    n_down = len(down) if down else (start - 4) // 3
    if sorted(blocks) != list(range(start, start + n_blocks)) or start != 4 + per_down * n_down:
        raise _fail(f"residual blocks at model.{min(blocks)}..{max(blocks)} are not where {n_down} downsamplings "
                    "would put them")
    if up and len(up) != n_down:
        raise _fail(f"{len(up)} upsampling blur filters for {n_down} downsamplings")
    dropout = 0.5 if getattr(state.get(f"model.{start}.conv_block.6.weight"), "ndim", 0) == 4 else 0.0
    last = max(int(_KEY.match(k).group(1)) for k in state)  # type: ignore[union-attr]
    out = state.get(f"model.{last}.weight")
    if getattr(out, "ndim", 0) != 4:
        raise _fail(f"model.{last}.weight is not the last convolution")
    return {"ngf": int(first.shape[0]), "n_blocks": n_blocks, "n_downsampling": n_down, "norm": norm,
            "dropout": dropout, "antialias": bool(down), "antialias_up": bool(up),
            "in_channels": int(first.shape[1]), "out_channels": int(out.shape[0])}


class AuthorsCUTCheckpoint:
    """What ``translate convert`` asks a generator: the CUT authors' checkpoints (see the module docstring).

    ``fixed_blocks`` is the residual-block count of a named variant (``cut_resnet_9blocks``), None for
    the configurable ``cut_resnet``.
    """

    fixed_blocks: int | None = None

    def infer_options_from_authors_state_dict(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """Options of the registered generator that built this network which rebuild ``state``."""
        layout = cut_layout(state)
        options = {k: layout[k] for k in ("ngf", "norm", "dropout", "antialias", "antialias_up")}
        if self.fixed_blocks is None:
            options.update(n_blocks=layout["n_blocks"], n_downsampling=layout["n_downsampling"])
        elif (layout["n_blocks"], layout["n_downsampling"]) != (self.fixed_blocks, 2):
            raise _fail(f"it has {layout['n_blocks']} residual blocks and {layout['n_downsampling']} "
                        f"downsamplings, this generator {self.fixed_blocks} and 2")
        return options

    @staticmethod
    def from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, Any]:
        """The authors' tensors under this network's names (the same; InstanceNorm statistics dropped)."""
        cut_layout(state)
        return {k: v for k, v in state.items()
                if not (k.rsplit(".", 1)[-1] in _STATS and f"{k.rsplit('.', 1)[0]}.weight" not in state)}

    def to_authors_state_dict(self, state: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """This network's state dict (or ``state``) under the authors' names: the same names."""
        return dict(self.state_dict() if state is None else state)  # type: ignore[attr-defined]

    @staticmethod
    def channels_from_authors_state_dict(state: Mapping[str, Any]) -> dict[str, int]:
        """``{"in_channels": ..., "out_channels": ...}`` of the checkpoint."""
        layout = cut_layout(state)
        return {"in_channels": layout["in_channels"], "out_channels": layout["out_channels"]}


__all__ = ["AuthorsCUTCheckpoint", "cut_layout"]

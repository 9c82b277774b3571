"""``translate convert``: the authors' pix2pix/CycleGAN checkpoints (``.pth``) as translate model folders.

Users of the authors' pytorch-CycleGAN-and-pix2pix code have its published generators (one
``latest_net_G.pth`` per model) and their own ``*_net_G.pth`` / ``*_net_G_A.pth`` + ``*_net_G_B.pth``.
:func:`convert` reads them without unpickling code, recognises the network through the registered
generators, and writes a model folder that infers, exports to ONNX and pushes like a trained one:

    translate convert horse2zebra.pth --input-domain horse --output-domain zebra --out horse2zebra

The parts:

- :mod:`.checkpoint`: reading a ``.pth`` safely (``torch.load(weights_only=True)``, a flat tensor
  dictionary only, PyTorch < 0.4 InstanceNorm statistics and ``module.`` prefixes removed);
- :mod:`.recognise`: asking every registered generator whether it reads the state dict (the
  interface a network offers for that is described there; no component is named here);
- :mod:`.model`: building the recognised networks with the weights and writing the folder;
- :mod:`.cli`: ``add_convert_arguments`` and ``convert_cli``.
"""

from __future__ import annotations

from typing import Any

_NAMES = {
    "checkpoint": ("Checkpoint", "file_kind", "read_checkpoint", "strip_instance_norm_statistics"),
    "model": ("Conversion", "ConvertedGenerator", "convert", "default_out", "file_role"),
    "recognise": ("Recognised", "recognise"),
}

__all__ = sorted(name for names in _NAMES.values() for name in names)


def __getattr__(name: str) -> Any:
    """Import the part that defines ``name`` on first use (``translate --help`` imports only the CLI glue)."""
    from importlib import import_module

    for module, names in _NAMES.items():
        if name in names:
            return getattr(import_module(f"{__name__}.{module}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

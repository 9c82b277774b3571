"""Running a trained generator on image files: ``translate infer MODEL INPUT... --out DIR``.

One concept per module:

- :mod:`~translate.inference.inputs`: input files, folders and globs, their output names, pairs,
  and ``--size`` parsing;
- :mod:`~translate.inference.translator`: the :class:`Translator` (padding or resizing to the
  network, test-time mode, precision, batches) and device names;
- :mod:`~translate.inference.tiling`: large images in overlapping, blended tiles;
- :mod:`~translate.inference.comparison`: the ``--html`` comparison page;
- :mod:`~translate.inference.run`: a run over files (:func:`translate_files`);
(the ``translate infer`` command is :mod:`translate.commands.infer`).

Example::

    from translate.inference import Translator, collect_inputs, translate_files

    report = translate_files(Translator(module, info, device="cpu"), collect_inputs(["photos/"]), "out")
"""

from __future__ import annotations

from .comparison import HTML_INPUTS, HTML_TARGETS, write_html
from .inputs import InputImage, collect_inputs, parse_size, read_input
from .outputs import check_outputs
from .run import InferenceReport, translate_files
from .tiling import tile_starts, tile_windows, translate_tiles
from .translator import MODES, PRECISIONS, Translator, resolve_device

__all__ = [
    "HTML_INPUTS",
    "HTML_TARGETS",
    "InferenceReport",
    "InputImage",
    "MODES",
    "PRECISIONS",
    "Translator",
    "check_outputs",
    "collect_inputs",
    "parse_size",
    "read_input",
    "resolve_device",
    "tile_starts",
    "tile_windows",
    "translate_files",
    "translate_tiles",
    "write_html",
]

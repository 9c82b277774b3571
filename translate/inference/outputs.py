"""What ``translate infer`` may write: never over one of its inputs, and over existing files only when asked.

Every file a run would write (each output, and with ``--html`` the input and target copies) is
checked before anything is written:

- a file that is one of the inputs is refused, ``--overwrite`` or not (``--out`` equal to an input
  folder would otherwise replace the images being translated);
- an existing file is refused unless ``overwrite`` (``--overwrite``); the error lists a few of them.

Outputs are PNG files (8- or 16-bit, as the model's ``bit_depth``), except where PNG cannot hold them:
more than 4 channels, or 2 channels at 16 bits, are written as TIFF (:func:`output_suffix`,
:func:`output_items`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError
from .comparison import HTML_INPUTS, HTML_TARGETS
from .inputs import InputImage

if TYPE_CHECKING:  # pragma: no cover
    from ..models import GeneratorMeta

_SHOWN = 5


def output_suffix(channels: int, bit_depth: int = 8) -> str:
    """``".png"``, or ``".tif"`` for outputs a PNG cannot hold (more than 4 channels; 2 channels at 16 bits)."""
    return ".tif" if channels > 4 or (channels == 2 and bit_depth == 16) else ".png"


def output_items(items: list[InputImage], meta: GeneratorMeta, *, html: bool = False) -> list[InputImage]:
    """``items`` with output names in the file type the generator's outputs need (:func:`output_suffix`).

    Raises:
        DataError: ``html`` for a generator that reads or writes more than 4 channels (a browser shows no TIFF).
    """
    if html and max(meta.in_channels, meta.out_channels) > 4:
        raise DataError(f"--html shows inputs and outputs in a browser, which cannot show images of more than 4 "
                        f"channels; this generator maps {meta.in_channels} to {meta.out_channels} channels: "
                        "leave out --html")
    suffix = output_suffix(meta.out_channels, meta.bit_depth)
    if suffix == ".png":
        return items
    return [InputImage(item.source, item.relative.with_suffix(suffix)) for item in items]


def planned_files(items: list[InputImage], out: Path, *, pairs: bool, html: bool) -> list[Path]:
    """Every file a run over ``items`` would write into ``out`` (the page itself excepted)."""
    files = [out / item.relative for item in items]
    if html:
        files += [out / HTML_INPUTS / item.relative for item in items]
        if pairs:
            files += [out / HTML_TARGETS / item.relative for item in items]
    return files


def check_outputs(items: list[InputImage], out: str | Path, *, pairs: bool = False, html: bool = False,
                  overwrite: bool = False) -> None:
    """Raise DataError when the run would write over an input, or over an existing file without ``overwrite``."""
    out = Path(out)
    inputs = {_resolved(item.source): item.source for item in items}
    targets = planned_files(items, out, pairs=pairs, html=html)
    if html:
        targets.append(out / "index.html")
    over_inputs = [(path, inputs[_resolved(path)]) for path in targets if _resolved(path) in inputs]
    if over_inputs:
        shown = "; ".join(f"{path} is the input {source}" for path, source in over_inputs[:_SHOWN])
        raise DataError(f"refusing to write over the inputs ({len(over_inputs)} file(s): {shown}); "
                        "choose an --out folder that holds none of the inputs")
    existing = [path for path in targets if path.exists() or path.is_symlink()]
    if existing and not overwrite:
        shown = ", ".join(str(p) for p in existing[:_SHOWN]) + (" ..." if len(existing) > _SHOWN else "")
        raise DataError(f"{len(existing)} output file(s) already exist in {out} ({shown}); nothing was written: "
                        "pass --overwrite to replace them, or choose another --out")


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:  # pragma: no cover - a path that cannot be resolved is compared as written
        return path.absolute()

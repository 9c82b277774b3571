"""Reference statistics: saved statistics of a set of real images that a metric compares with.

A file is an ``.npz`` archive of named numpy arrays, in clean-fid's layout so that files
interchange: ``mu`` and ``sigma`` (FID), ``feats`` (KID); translate's own files add ``mode`` and
``count``. Which arrays a metric needs is the metric's business
(:class:`~translate.components.metric.ReferenceStatistics`); this module reads and writes the files:

- :func:`read_reference`: ``numpy.load(allow_pickle=False)``, so an object array (which would need
  unpickling) is refused, as are files above :data:`MAX_REFERENCE_BYTES`, archives that are not
  ``.npz`` and non-finite numbers; the file's sha256 goes into the protocol.
- :func:`write_reference`: the arrays, uncompressed as clean-fid writes them, atomically (a temporary
  file renamed into place).

Where a file named by the user is found (a path, the weights folders, the Hugging Face cache, a URL)
is :func:`translate.models.weights.resolve_weights`'s business; the commands resolve, then read here.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..components.metric import ReferenceStatistics
from ..errors import TranslateError
from ..utils.atomic import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..components.metric import Metric

MAX_REFERENCE_BYTES = 8 * 1024**3
"""Statistics files above this size are refused (clean-fid's largest, 50 000 features of 2048, are 400 MB)."""
SUFFIX = ".npz"


@dataclass
class Reference:
    """A statistics file as read: its path, its sha256 and its arrays by name."""

    path: Path
    sha256: str
    arrays: dict[str, "np.ndarray"]

    def protocol(self) -> dict[str, Any]:
        """What the protocol records about the file: its name, sha256 and the arrays it holds (name: shape)."""
        return {"file": self.path.name, "sha256": self.sha256,
                "arrays": {k: list(v.shape) for k, v in sorted(self.arrays.items())}}


def read_reference(path: str | Path, *, where: str = "--reference") -> Reference:
    """The arrays of the statistics file ``path``, read without unpickling anything.

    Raises:
        TranslateError: the file is missing, too large, not an ``.npz`` archive of numeric or string
            arrays, or holds non-finite numbers; the message names ``where`` and the file.
    """
    import numpy as np

    from ..utils.hashing import file_sha256

    path = Path(path)
    if not path.is_file():
        raise TranslateError(f"{where}: {path} is not a file (expected an .npz of statistics, e.g. from "
                             "`translate eval stats` or clean-fid)")
    size = path.stat().st_size
    if size > MAX_REFERENCE_BYTES:
        raise TranslateError(f"{where}: {path} is {size:,} bytes, more than the {MAX_REFERENCE_BYTES:,} a statistics "
                             "file may hold")
    if not zipfile.is_zipfile(path):
        raise TranslateError(f"{where}: {path} is not an .npz archive (numpy.savez); statistics files hold named "
                             "arrays such as mu and sigma")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as data:
            for name in data.files:
                arrays[name] = data[name]
    except ValueError as err:  # an object array: it would need unpickling
        raise TranslateError(f"{where}: {path} holds an array that only unpickling could read ({err}); statistics "
                             "files hold numbers and strings only") from None
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise TranslateError(f"{where}: {path} could not be read as an .npz archive ({err})") from None
    if not arrays:
        raise TranslateError(f"{where}: {path} holds no arrays")
    for name, array in arrays.items():
        if array.dtype.kind in "fc" and not np.isfinite(array).all():
            raise TranslateError(f"{where}: {path}: array {name!r} holds inf or nan values")
        if array.dtype.kind not in "biufcU":
            raise TranslateError(f"{where}: {path}: array {name!r} has dtype {array.dtype}; expected numbers or text")
    return Reference(path=path, sha256=file_sha256(path), arrays=arrays)


def write_reference(path: str | Path, arrays: dict[str, "np.ndarray"]) -> Path:
    """Write ``arrays`` to the ``.npz`` file ``path`` atomically (its folder must exist); returns the path.

    Raises:
        TranslateError: ``path`` does not end in ``.npz``, or an array is not numbers or text.
    """
    import numpy as np

    path = Path(path)
    if path.suffix != SUFFIX:
        raise TranslateError(f"--out {path}: statistics are written as an .npz archive; name the file *.npz")
    for name, array in arrays.items():
        if np.asarray(array).dtype.kind not in "biufcU":
            raise TranslateError(f"statistics array {name!r} has dtype {np.asarray(array).dtype}; expected numbers "
                                 "or text")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: numpy would append .npz to a bare temporary name
            np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    return path


def hand_over(reference: Reference, metrics: list[tuple[str, "Metric"]], where: str) -> dict[str, Any]:
    """Give ``reference`` to the metrics (by name) that implement ``ReferenceStatistics``; what the protocol records.

    Raises:
        TranslateError: none of ``metrics`` takes statistics, or one refuses the file (its message).
    """
    takers = [(name, m) for name, m in metrics if isinstance(m, ReferenceStatistics)]
    if not takers:
        raise TranslateError(
            f"{where}: reference statistics {reference.path} were given, but none of the metrics "
            f"({', '.join(name for name, _ in metrics)}) compares with statistics of real images (a metric that "
            "implements translate.ReferenceStatistics, such as a distribution metric)")
    for _, metric in takers:
        metric.use_reference(reference.arrays, reference.path.name)
    return {**reference.protocol(), "metrics": [name for name, _ in takers]}


def hand_over_all(references: dict[str, Reference], generators: list[tuple[str, list[tuple[str, "Metric"]]]],
                  where: str) -> dict[str, Any]:
    """:func:`hand_over` each generator's file (``references`` by generator name) to its metrics (``generators``:
    ``(name, [(metric name, metric)])``); what the protocol records, by generator.

    Raises:
        TranslateError: a file for a generator not evaluated, or one that no metric takes.
    """
    names = [name for name, _ in generators]
    unknown = sorted(set(references) - set(names))
    if unknown:
        raise TranslateError(f"{where}: reference statistics given for {', '.join(map(repr, unknown))}, which is "
                             f"not a generator evaluated here ({', '.join(names)})")
    return {name: hand_over(references[name], metrics, where) for name, metrics in generators if name in references}


def assign_references(spec: str | dict[str, str] | Iterable[str] | None, generators: list[tuple[str, str]],
                      resolve: Callable[[str, str], Path], *, where: str) -> dict[str, Reference]:
    """The statistics file of each generator, read: ``{generator name: Reference}``.

    ``spec`` is one file (for the only generator evaluated), a table ``{generator name or direction: file}``
    (a recipe's ``[eval] reference``), or command-line words ``FILE`` / ``GENERATOR=FILE``.
    ``generators`` are ``(name, direction)`` pairs; ``resolve(file, option)`` finds a file the user named
    (:func:`translate.models.weights.resolve_file`).

    Raises:
        TranslateError: a file for no generator evaluated, one file for several generators, or a file that
            cannot be found or read.
    """
    if spec is None:
        return {}
    if isinstance(spec, str):
        table: dict[str | None, str] = {None: spec}
    elif isinstance(spec, dict):
        table = dict(spec)
    else:
        table = {}
        for word in spec:
            key, eq, value = word.partition("=")
            if eq and key and "/" not in key and not key.endswith((".npz", ":")):
                table[key] = value
            else:
                table[None] = word
    names = [n for n, _ in generators]
    out: dict[str, Reference] = {}
    for key, file in table.items():
        if key is None:
            if len(generators) != 1:
                raise TranslateError(f"{where} {file}: {len(generators)} generators are evaluated "
                                     f"({', '.join(names)}); say which one compares with it, as "
                                     f"GENERATOR=FILE (e.g. {names[0]}={file})")
            name = names[0]
        else:
            matches = [n for n, d in generators if key in (n, d)]
            if not matches:
                raise TranslateError(f"{where}: {key!r} is not a generator evaluated here (generators: "
                                     f"{', '.join(f'{n} ({d})' for n, d in generators)})")
            name = matches[0]
        option = f"{where}" if key is None else f"{where}.{key}"
        out[name] = read_reference(resolve(file, option), where=option)
    return out


__all__ = ["MAX_REFERENCE_BYTES", "Reference", "assign_references", "hand_over", "hand_over_all", "read_reference",
           "write_reference"]

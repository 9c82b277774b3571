"""Data sets generated on first use: generate once into a folder, atomically, and reuse.

A generated set (such as ``synthetic_shapes``) is written by a function of its parameters.
:func:`ensure_generated` keeps a folder in step with those parameters:

- the folder holds ``manifest.json`` (``{"dataset": NAME, **params}``, written last) and
  sub-folders of images; it is reused when the manifest equals the wanted one and every
  sub-folder holds its expected number of images;
- otherwise the set is generated (a line on stdout says so first: generation takes seconds and
  comes before anything else a run prints) into a temporary folder beside it (``.ROOT.tmp-*``) and
  swapped in by renaming, so a killed run never leaves a half-written set under the real
  name; when another process swapped in the same set meanwhile, its copy is kept;
- a folder is replaced only when it is empty or holds a manifest of the same data set:
  anything else is the user's and is a :class:`~translate.errors.DataError`.

Example::

    def write(folder: Path) -> None:  # the images only; the manifest is written for you
        ...

    params = {"generator_version": 1, "seed": options.seed, "count": options.count}
    ensure_generated(options.root, params, dataset="my_shapes", expected={"train": options.count}, generate=write)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import DataError
from .imageio import list_images

MANIFEST = "manifest.json"


def ensure_generated(
    root: str | os.PathLike[str],
    params: Mapping[str, Any],
    *,
    dataset: str,
    expected: Mapping[str, int],
    generate: Callable[[Path], None],
) -> bool:
    """Generate a set into ``root`` unless it is already there with these parameters.

    Args:
        root: the set's folder (created with its parents when needed).
        params: the generation parameters, JSON values only (lists, not tuples); stored in
            the manifest, so any change regenerates the set.
        dataset: the data set's name, stored in the manifest as ``"dataset"``: it marks the
            folders that this function may replace.
        expected: image count of each sub-folder (``{"train": 400, "val": 16}``): a folder
            with fewer or more images is regenerated.
        generate: writes the images into the folder it is given (a fresh, empty temporary
            folder); the manifest is written after it returns.

    Returns:
        True when it (re)generated, False when ``root`` was reused.

    Raises:
        DataError: ``root`` exists, is not empty and has no manifest of ``dataset``.
    """
    root = Path(root)
    manifest = {"dataset": dataset, **params}
    if is_complete(root, manifest, expected):
        return False
    if root.exists() and not _replaceable(root, dataset):
        raise DataError(
            f"{root} exists but is not a {dataset} folder (it has no {MANIFEST} written by "
            f"translate); choose another root for {dataset}, or remove that folder"
        )
    root.parent.mkdir(parents=True, exist_ok=True)
    why = "parameters changed" if read_manifest(root) not in (None, manifest) else "first use"
    print(f"generating data set {dataset} into {root} ({why}: {sum(expected.values())} images) ...", flush=True)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(dir=root.parent, prefix=f".{root.name}.tmp-"))
    try:
        generate(tmp)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _swap_in(tmp, root, manifest, expected)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"generated {dataset} in {time.perf_counter() - start:.1f} s", flush=True)
    return True


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a generated folder, or None when it has none (or an unreadable one)."""
    try:
        manifest = json.loads((Path(root) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_complete(root: str | os.PathLike[str], manifest: Mapping[str, Any], expected: Mapping[str, int]) -> bool:
    """The folder's manifest equals ``manifest`` and every sub-folder holds its expected image count."""
    root = Path(root)
    if read_manifest(root) != manifest:
        return False
    return all((root / sub).is_dir() and len(list_images(root / sub)) == n for sub, n in expected.items())


def _replaceable(root: Path, dataset: str) -> bool:
    """An empty folder or one generated for ``dataset`` (safe to replace)."""
    if root.is_dir() and not any(root.iterdir()):
        return True
    manifest = read_manifest(root)
    return manifest is not None and manifest.get("dataset") == dataset


def _swap_in(tmp: Path, root: Path, manifest: Mapping[str, Any], expected: Mapping[str, int]) -> None:
    """Rename ``tmp`` to ``root``, moving an older ``root`` aside first."""
    try:
        os.rename(tmp, root)  # root absent (or empty)
        return
    except OSError:
        pass
    if is_complete(root, manifest, expected):  # another process generated it meanwhile
        return
    old = root.with_name(f".{root.name}.old-{uuid.uuid4().hex[:8]}")
    os.rename(root, old)
    try:
        os.rename(tmp, root)
    except OSError:
        os.rename(old, root)
        raise
    shutil.rmtree(old, ignore_errors=True)


__all__ = ["MANIFEST", "ensure_generated", "is_complete", "read_manifest"]

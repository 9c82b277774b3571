"""What a model folder on the Hub holds: the files a download fetches and a push uploads, and the
check of a local folder before it is pushed."""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import ModelFileError
from .. import CONFIG_FILENAME, MODEL_FILENAME, README_FILENAME, check_config, read_config, read_metadata
from ..header import check_regular

REQUIRED_FILES: tuple[str, ...] = (CONFIG_FILENAME, MODEL_FILENAME)
OPTIONAL_FILES: tuple[str, ...] = (README_FILENAME,)
MODEL_FOLDER_FILES: tuple[str, ...] = REQUIRED_FILES + OPTIONAL_FILES
"""The only file names a download fetches and a push uploads."""


def check_model_folder(folder: str | os.PathLike[str]) -> list[str]:
    """Check that ``folder`` is a model folder and return the names of its files to upload.

    A model folder (``translate export``) holds ``config.json`` and ``model.safetensors``
    (required; the model file's metadata and the config are validated and must agree) and
    optionally ``README.md``.

    Raises:
        ModelFileError: the folder is missing, incomplete, or its files are invalid.
    """
    p = Path(folder)
    if not p.exists():
        raise ModelFileError(f"{p}: no such folder")
    if not p.is_dir():
        raise ModelFileError(
            f"{p}: not a folder; push takes a model folder holding {', '.join(REQUIRED_FILES)} "
            "(make one with `translate export RUN`)"
        )
    for name in MODEL_FOLDER_FILES:  # a named pipe or device is refused here, never uploaded or left out
        if (p / name).exists() and not (p / name).is_file():
            check_regular(p / name)
    missing = [name for name in REQUIRED_FILES if not (p / name).is_file()]
    if missing:
        raise ModelFileError(
            f"{p}: not a model folder: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing "
            f"(a model folder holds {', '.join(MODEL_FOLDER_FILES)}; make one with `translate export RUN`)"
        )
    model_path, config_path = p / MODEL_FILENAME, p / CONFIG_FILENAME
    meta = read_metadata(model_path)
    check_config(config_path, model_path, read_config(config_path), meta)
    return [name for name in MODEL_FOLDER_FILES if (p / name).is_file()]


__all__ = ["MODEL_FOLDER_FILES", "OPTIONAL_FILES", "REQUIRED_FILES", "check_model_folder"]

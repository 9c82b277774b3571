"""``download``: fetch a data set's archive and extract it into place, leaving no debris on failure."""

from __future__ import annotations

from pathlib import Path

from ..source import DataSource
from .extract import ensure_free, extract
from .fetch import DOWNLOADS, fetch


def download(source: DataSource, root: Path | str, *, progress: bool = True, keep_archive: bool = False,
             max_extract_bytes: int | None = None, max_extract_members: int | None = None) -> Path:
    """Download ``source`` into ``root/.downloads`` and extract it to ``root/<name>``.

    A partial download is resumed. ``max_extract_bytes`` caps the extracted size (default: see
    :func:`~translate.data.download.extract.extract_limit`), ``max_extract_members`` the number of
    archive members (default: see :func:`~translate.data.download.extract.member_limit`). Returns the data set folder. Raises
    :class:`~translate.errors.DataError` for network errors, size or checksum
    mismatches, unsafe or corrupt archives, and when ``root/<name>`` already holds data.
    """
    root = Path(root)
    ensure_free(root / source.name)
    try:
        archive = fetch(source, root, progress=progress)
    except BaseException:
        _rmdir_if_empty(root / DOWNLOADS)  # leave no empty folder behind after a failed first try
        raise
    target = extract(source, archive, root, max_bytes=max_extract_bytes, max_members=max_extract_members)
    if not keep_archive:
        archive.unlink(missing_ok=True)
        _rmdir_if_empty(archive.parent)
    return target


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass

"""Safe extraction of a downloaded archive to ``root/<name>``.

Extraction goes to a temporary folder inside ``root`` and is renamed into place only
when it fully succeeded; on any failure nothing is left behind.

Tar archives are extracted with :mod:`tarfile`'s ``"data"`` extraction filter
(Python >= 3.10.12 / 3.11.4 / 3.12), which refuses members that would land outside the
folder (``..``, links leading out, also through links extracted before), links to
absolute paths, device files and FIFOs, and clears unsafe modes. One rule is added:
the filter silently strips a leading ``/`` from a member's name, and we refuse such an
archive instead. A Python without the filter gets a clear error rather than an unsafe
extraction. Zip archives have no such filter in :mod:`zipfile`, so their members are
checked here before anything is written.

Decompression bombs: the bytes extracted are capped (:func:`extract_limit`). By default the
limit is :data:`EXPAND_FACTOR` times the archive's size (:attr:`DataSource.size` when declared,
else the size of the file on disk); the environment variable ``TRANSLATE_MAX_EXTRACT_BYTES``
(a byte count) or ``extract(..., max_bytes=N)`` sets it instead. Tar members are counted from
their headers before they are written, zip members from the central directory's declared sizes
first and then by the bytes actually written; going over stops with a :class:`DataError` naming
the archive and the limit, and the partial folder is removed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path

from ...errors import DataError
from ..source import DataSource, unsafe_member_name

EXPAND_FACTOR = 20
"""Default cap on the extracted bytes, as a multiple of the archive's size."""
MAX_BYTES_ENV = "TRANSLATE_MAX_EXTRACT_BYTES"
"""Environment variable: the cap on the extracted bytes, in bytes (overrides the factor)."""
_COPY_CHUNK = 1 << 20


def extract_limit(source: DataSource, archive: Path) -> int:
    """The most bytes extracting ``archive`` may write: ``$TRANSLATE_MAX_EXTRACT_BYTES``, else
    :data:`EXPAND_FACTOR` times the declared (or on-disk) archive size."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) <= 0:
            raise DataError(f"{MAX_BYTES_ENV}={text!r}: expected a positive number of bytes")
        return int(text)
    size = source.size if source.size is not None else archive.stat().st_size
    return EXPAND_FACTOR * max(size, 1)


def _too_big(archive: Path, limit: int, detail: str) -> DataError:
    return DataError(
        f"refusing to extract {archive}: it expands to more than the limit of {limit} bytes ({detail}); "
        f"a decompression bomb, or a data set much larger than its archive: if you trust it, set "
        f"{MAX_BYTES_ENV} to a larger byte count. Nothing was extracted"
    )


def ensure_free(target: Path) -> None:
    """Raise DataError when ``target`` exists and is not an empty folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise DataError(f"{target} already exists and is not a folder; remove it to download the data set again")
    if target.is_dir() and any(target.iterdir()):
        raise DataError(
            f"{target} already exists and is not empty: the data set is already there. "
            "Remove the folder (or use another --root) to download it again"
        )


def extract(source: DataSource, archive: Path, root: Path | str, *, max_bytes: int | None = None) -> Path:
    """Extract ``archive`` safely to ``root/<name>``; on any failure nothing is left behind.

    ``max_bytes``: the most bytes the members may expand to (default: :func:`extract_limit`).
    """
    root = Path(root)
    target = root / source.name
    ensure_free(target)
    limit = max_bytes if max_bytes is not None else extract_limit(source, archive)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{source.name}.extracting-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # inside root, so the final rename stays on one file system
    try:
        try:
            if source.archive == "zip":
                _extract_zip(archive, tmp, limit)
            else:
                _extract_tar(archive, tmp, "r|gz" if source.archive == "tar.gz" else "r|", limit)
        except (tarfile.TarError, zipfile.BadZipFile, zlib.error, EOFError) as err:
            raise DataError(f"{archive} is not a valid {source.archive} archive ({err}); "
                            f"delete it and download {source.url} again") from None
        except OSError as err:
            raise DataError(f"could not extract {archive} into {root}: {err}") from None
        content = tmp / source.strip if source.strip else tmp
        if not content.is_dir() or content.is_symlink():
            found = ", ".join(sorted(p.name for p in tmp.iterdir())) or "nothing"
            raise DataError(f"{archive} has no top folder {source.strip!r} (it holds: {found})")
        if target.is_dir():
            target.rmdir()  # empty, checked above
        try:
            os.rename(content, target)
        except OSError as err:
            raise DataError(f"could not move the extracted data to {target}: {err}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _no_absolute_names(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """tarfile's ``data`` filter, refusing (instead of rewriting) a member with an absolute name."""
    filtered = tarfile.data_filter(member, dest)
    if filtered.name != member.name:
        raise tarfile.AbsolutePathError(member)
    return filtered


def _extract_tar(archive: Path, dest: Path, mode: str, limit: int) -> None:
    """Extract in one streaming pass; the filter checks every member (name, kind, size) before it is written."""
    if not hasattr(tarfile, "data_filter"):
        raise DataError(f"refusing to extract {archive}: this Python's tarfile has no extraction filters "
                        "(Python >= 3.10.12, 3.11.4 or 3.12 is needed)")
    total = 0

    def check(member: tarfile.TarInfo, where: str) -> tarfile.TarInfo:
        nonlocal total
        filtered = _no_absolute_names(member, where)
        total += max(filtered.size, 0) if filtered.isreg() else 0  # header size: written only after this
        if total > limit:
            raise _too_big(archive, limit, f"member {member.name!r} of {filtered.size} bytes brings the total "
                                           f"to {total} bytes")
        return filtered

    with tarfile.open(archive, mode) as tf:
        try:
            tf.extractall(dest, filter=check)
        except tarfile.FilterError as err:
            raise DataError(f"refusing to extract {archive}: {err}") from None  # the error names the member


def _extract_zip(archive: Path, dest: Path, limit: int) -> None:
    """Check every member first (zip has a central directory), then extract, counting the bytes written."""
    with zipfile.ZipFile(archive) as zf:
        declared = 0
        for info in zf.infolist():
            why = unsafe_member_name(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if why is None and kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                why = "a link or special file type (not supported in zip archives)"
            if why is not None:
                raise DataError(f"refusing to extract {archive}: member {info.filename!r} has {why}")
            declared += info.file_size
        if declared > limit:
            raise _too_big(archive, limit, f"its members declare {declared} bytes")
        written = 0
        for info in zf.infolist():
            written = _write_member(zf, info, dest, archive, limit, written)


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, archive: Path,
                  limit: int, written: int) -> int:
    """Write one (checked) zip member under ``dest``; returns the running total of bytes written."""
    path = dest.joinpath(*[part for part in info.filename.split("/") if part])
    if info.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return written
    path.parent.mkdir(parents=True, exist_ok=True)
    with zf.open(info) as src, open(path, "wb") as out:
        while chunk := src.read(_COPY_CHUNK):
            written += len(chunk)
            if written > limit:  # the declared sizes lied
                raise _too_big(archive, limit, f"at member {info.filename!r}, the members hold more bytes "
                                               "than their sizes declare")
            out.write(chunk)
    return written

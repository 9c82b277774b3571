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

from ..data_source import DataSource, unsafe_member_name
from ..errors import DataError


def ensure_free(target: Path) -> None:
    """Raise DataError when ``target`` exists and is not an empty folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise DataError(f"{target} already exists and is not a folder; remove it to download the data set again")
    if target.is_dir() and any(target.iterdir()):
        raise DataError(
            f"{target} already exists and is not empty: the data set is already there. "
            "Remove the folder (or use another --root) to download it again"
        )


def extract(source: DataSource, archive: Path, root: Path | str) -> Path:
    """Extract ``archive`` safely to ``root/<name>``; on any failure nothing is left behind."""
    root = Path(root)
    target = root / source.name
    ensure_free(target)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{source.name}.extracting-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # inside root, so the final rename stays on one file system
    try:
        try:
            if source.archive == "zip":
                _extract_zip(archive, tmp)
            else:
                _extract_tar(archive, tmp, "r|gz" if source.archive == "tar.gz" else "r|")
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


def _extract_tar(archive: Path, dest: Path, mode: str) -> None:
    """Extract in one streaming pass; the filter checks every member before it is written."""
    if not hasattr(tarfile, "data_filter"):
        raise DataError(f"refusing to extract {archive}: this Python's tarfile has no extraction filters "
                        "(Python >= 3.10.12, 3.11.4 or 3.12 is needed)")
    with tarfile.open(archive, mode) as tf:
        try:
            tf.extractall(dest, filter=_no_absolute_names)
        except tarfile.FilterError as err:
            raise DataError(f"refusing to extract {archive}: {err}") from None  # the error names the member


def _extract_zip(archive: Path, dest: Path) -> None:
    """Check every member first (zip has a central directory), then extract."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            why = unsafe_member_name(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if why is None and kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                why = "a link or special file type (not supported in zip archives)"
            if why is not None:
                raise DataError(f"refusing to extract {archive}: member {info.filename!r} has {why}")
        zf.extractall(dest)

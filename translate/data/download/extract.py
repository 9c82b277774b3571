"""Safe extraction of a downloaded archive to ``root/<name>``.

Extraction goes to a temporary folder inside ``root`` and is renamed into place only
when it fully succeeded; on any failure nothing is left behind.

Belt and braces. Every member is checked by us (:mod:`.members`: names, kinds, where links lead,
resolved through the links seen before without asking the file system, counts and sizes) before
anything is written: a tar archive is read twice, once to check every member, then to extract it
with the same checks again and :mod:`tarfile`'s ``"data"`` extraction filter (Python >= 3.10.12 /
3.11.4 / 3.12); a zip archive's central directory is checked whole before its members are written.
The filter alone is not enough on Python releases with known bypasses of it (CVE-2025-4517 and its
family, fixed in 3.11.13 / 3.12.11 / 3.13.4). A member with an absolute name is refused, not
rewritten. A Python without the filter gets a clear error rather than an unsafe extraction.

Bombs: the bytes extracted are capped (:func:`extract_limit`). By default the limit is
:data:`EXPAND_FACTOR` times the archive's size (:attr:`DataSource.size` when declared, else the
size of the file on disk); the environment variable ``TRANSLATE_MAX_EXTRACT_BYTES`` (a byte count)
or ``extract(..., max_bytes=N)`` sets it instead. Tar members are counted from their headers,
zip members from the central directory's declared sizes first and then by the bytes actually
written (a member may not hold more than it declares). The number of members is capped the same
way (:func:`member_limit`): one member per :data:`BYTES_PER_MEMBER` bytes of the archive, at least
:data:`MIN_MEMBER_LIMIT`; ``TRANSLATE_MAX_EXTRACT_MEMBERS`` or ``extract(..., max_members=N)`` sets
it instead. Counting stops at the first member over the cap, so an archive of a million empty
members is refused after reading the cap's worth of headers. Going over either cap stops with a
:class:`DataError` naming the archive, the member and the limit, and the partial folder is removed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path

from ...errors import DataError
from ..source import DataSource
from .members import MAX_BYTES_ENV, MAX_MEMBERS_ENV, TarChecker, check_zip, too_big, too_many, zip_entry_count

EXPAND_FACTOR = 20
"""Default cap on the extracted bytes, as a multiple of the archive's size."""
BYTES_PER_MEMBER = 1024
"""Default cap on the members: one per this many bytes of the archive ..."""
MIN_MEMBER_LIMIT = 10_000
"""... and at least this many."""
_COPY_CHUNK = 1 << 20


def _env_count(name: str, what: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise DataError(f"{name}={text!r}: expected a positive number of {what}")
    return int(text)


def _archive_size(source: DataSource, archive: Path) -> int:
    return source.size if source.size is not None else archive.stat().st_size


def extract_limit(source: DataSource, archive: Path) -> int:
    """The most bytes extracting ``archive`` may write: ``$TRANSLATE_MAX_EXTRACT_BYTES``, else
    :data:`EXPAND_FACTOR` times the declared (or on-disk) archive size."""
    limit = _env_count(MAX_BYTES_ENV, "bytes")
    return limit if limit is not None else EXPAND_FACTOR * max(_archive_size(source, archive), 1)


def member_limit(source: DataSource, archive: Path) -> int:
    """The most members ``archive`` may hold: ``$TRANSLATE_MAX_EXTRACT_MEMBERS``, else one per
    :data:`BYTES_PER_MEMBER` bytes of the declared (or on-disk) archive size, at least :data:`MIN_MEMBER_LIMIT`."""
    limit = _env_count(MAX_MEMBERS_ENV, "members")
    return limit if limit is not None else max(MIN_MEMBER_LIMIT, _archive_size(source, archive) // BYTES_PER_MEMBER)


def ensure_free(target: Path) -> None:
    """Raise DataError when ``target`` exists and is not an empty folder."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise DataError(f"{target} already exists and is not a folder; remove it to download the data set again")
    if target.is_dir() and any(target.iterdir()):
        raise DataError(
            f"{target} already exists and is not empty: the data set is already there. "
            "Remove the folder (or use another --root) to download it again"
        )


def extract(source: DataSource, archive: Path, root: Path | str, *, max_bytes: int | None = None,
            max_members: int | None = None) -> Path:
    """Extract ``archive`` safely to ``root/<name>``; on any failure nothing is left behind.

    ``max_bytes``: the most bytes the members may expand to (default: :func:`extract_limit`);
    ``max_members``: the most members the archive may hold (default: :func:`member_limit`).
    """
    root = Path(root)
    target = root / source.name
    ensure_free(target)
    limits = (max_bytes if max_bytes is not None else extract_limit(source, archive),
              max_members if max_members is not None else member_limit(source, archive))
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{source.name}.extracting-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # inside root, so the final rename stays on one file system
    try:
        try:
            if source.archive == "zip":
                _extract_zip(archive, tmp, *limits)
            else:
                _extract_tar(archive, tmp, "r|gz" if source.archive == "tar.gz" else "r|", *limits, source.strip)
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


def _extract_tar(archive: Path, dest: Path, mode: str, max_bytes: int, max_members: int, top: str | None) -> None:
    """Check every member in a first streaming pass; extract in a second, checking each member again (ours, then
    tarfile's ``data`` filter) before it is written."""
    if not hasattr(tarfile, "data_filter"):
        raise DataError(f"refusing to extract {archive}: this Python's tarfile has no extraction filters "
                        "(Python >= 3.10.12, 3.11.4 or 3.12 is needed)")
    first = TarChecker(archive, max_bytes=max_bytes, max_members=max_members, top=top)
    with tarfile.open(archive, mode) as tf:
        for member in tf:
            first.check(member)
    first.finish()
    again = TarChecker(archive, max_bytes=max_bytes, max_members=max_members, top=top)

    def check(member: tarfile.TarInfo, where: str) -> tarfile.TarInfo:
        again.check(member)
        return _no_absolute_names(member, where)

    with tarfile.open(archive, mode) as tf:
        try:
            tf.extractall(dest, filter=check)
        except tarfile.FilterError as err:
            raise DataError(f"refusing to extract {archive}: {err}") from None  # the error names the member
    again.finish()


def _extract_zip(archive: Path, dest: Path, max_bytes: int, max_members: int) -> None:
    """Count the entries, check every member (zip has a central directory), then extract, counting the bytes."""
    entries = zip_entry_count(archive, stop_after=max_members)
    if entries > max_members:
        raise too_many(archive, max_members, f"its central directory holds more than {max_members} entries")
    with zipfile.ZipFile(archive) as zf:
        check_zip(archive, zf, max_bytes=max_bytes, max_members=max_members)
        written = 0
        for info in zf.infolist():
            written = _write_member(zf, info, dest, archive, max_bytes, written)


def _write_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, archive: Path,
                  limit: int, written: int) -> int:
    """Write one (checked) zip member under ``dest``; returns the running total of bytes written.

    The declared sizes were checked against ``limit`` before, and no member may write more than it declares.
    """
    path = dest.joinpath(*[part for part in info.filename.split("/") if part])
    if info.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return written
    path.parent.mkdir(parents=True, exist_ok=True)
    here = 0
    with zf.open(info) as src, open(path, "wb") as out:
        while chunk := src.read(_COPY_CHUNK):
            here += len(chunk)
            if here > info.file_size:  # the declared size lied (zipfile stops there itself: this is the braces)
                raise too_big(archive, limit, f"member {info.filename!r} holds more than the {info.file_size} "
                                              "bytes it declares, and the declared sizes are what the limit counted")
            out.write(chunk)
    return written + here

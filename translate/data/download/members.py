"""What an archive member may be: our own check of every tar and zip member, made before anything is written.

tarfile's ``"data"`` filter stays on, but it decides with :func:`os.path.realpath` on the folder being
written, and Python before 3.11.13 / 3.12.11 / 3.13.4 has known bypasses of it (CVE-2025-4517 and its family
CVE-2025-4138, -4330, -4435, CVE-2024-12718): links whose real path grows past ``PATH_MAX`` stop ``realpath``
from resolving, so a later link leads out. :class:`TarChecker` does not ask the file system: it keeps a model
of the tree the archive builds and resolves every name and link target through the links seen before, as the
kernel would, so no chain of links, however long, leads out. A tar member is accepted when it is

- a regular file, a folder, a symbolic link or a hard link (no device, FIFO or unknown type);
- named by a relative path without ``..`` (:func:`~translate.data.source.unsafe_member_name`), at
  most :data:`MAX_NAME_CHARS` characters, each part at most 255 bytes;
- placed inside the folder once the links on its path are followed, and not in the place of an
  earlier member (a folder may be named again);
- for a symbolic link: a relative target that stays inside, and inside the data set's folder for a
  link in it (also at the end of the archive, when every link is resolved again against the whole tree);
- for a hard link: a target that is a regular file extracted before it, inside the folder;

and while the members are at most ``max_members`` and their regular files at most ``max_bytes``.
Zip members (:func:`check_zip`): safe names, regular files or folders only, no encryption, known
compression, declared sizes within ``max_bytes``, no overlapping entries (a zip bomb that points many
entries at one compressed block); :func:`zip_entry_count` counts entries without building them.
"""

from __future__ import annotations

import stat
import struct
import tarfile
import zipfile
from pathlib import Path

from ...errors import DataError
from ..source import unsafe_member_name

MAX_BYTES_ENV = "TRANSLATE_MAX_EXTRACT_BYTES"
"""Environment variable: the cap on the extracted bytes, in bytes (overrides the factor)."""
MAX_MEMBERS_ENV = "TRANSLATE_MAX_EXTRACT_MEMBERS"
"""Environment variable: the cap on the number of archive members (overrides the default)."""
MAX_NAME_CHARS = 1024
"""The longest member name or link target accepted, in characters."""
MAX_LINK_HOPS = 40
"""Links followed at most while resolving one name (the kernel's own limit is 40 too)."""
ALLOWED = ("allowed: regular files and folders under relative names inside the archive's folder (no '..', "
           "no absolute path), and links whose target stays inside it")

_FOLDER, _FILE = "folder", "file"
_KINDS = {tarfile.CHRTYPE: "a character device", tarfile.BLKTYPE: "a block device", tarfile.FIFOTYPE: "a FIFO"}
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_ZIP_LOCAL_HEADER = 30


class _Escapes(Exception):
    """A name resolves to a place outside the folder (or through too many links)."""


def refused(archive: Path, name: str, why: str) -> DataError:
    """The error for a member that may not be extracted: the archive, the member, why, and what is allowed."""
    return DataError(f"refusing to extract {archive}: member {name!r} {why}; {ALLOWED}. Nothing was extracted")


def too_big(archive: Path, limit: int, detail: str) -> DataError:
    """The error for an archive whose members expand to more than ``limit`` bytes."""
    return DataError(
        f"refusing to extract {archive}: it expands to more than the limit of {limit} bytes ({detail}); "
        f"a decompression bomb, or a data set much larger than its archive: if you trust it, set "
        f"{MAX_BYTES_ENV} to a larger byte count. Nothing was extracted"
    )


def too_many(archive: Path, limit: int, detail: str) -> DataError:
    """The error for an archive with more than ``limit`` members."""
    return DataError(
        f"refusing to extract {archive}: it holds more than the limit of {limit} members ({detail}); an archive "
        f"bomb of many small members, or a data set of many more files than its size suggests: if you trust it, "
        f"set {MAX_MEMBERS_ENV} to a larger count. Nothing was extracted"
    )


def name_problem(name: str) -> str | None:
    """Why ``name`` may not name a member (as a verb phrase), or None."""
    why = unsafe_member_name(name)
    if why is not None:
        return f"has {why}"
    if len(name) > MAX_NAME_CHARS:
        return f"has a name of {len(name)} characters (at most {MAX_NAME_CHARS})"
    if any(len(part.encode("utf-8", "surrogateescape")) > 255 for part in name.split("/")):
        return "has a name part longer than 255 bytes"
    return None


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


class TarChecker:
    """Checks tar members in archive order (:meth:`check`, then :meth:`finish`); raises DataError at the first
    member that may not be extracted. One checker per pass over the archive."""

    def __init__(self, archive: Path, *, max_bytes: int, max_members: int, top: str | None = None) -> None:
        self.archive = archive
        self.top = top  # the folder that becomes the data set: its links may not lead out of it
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.members = 0
        self.total = 0
        self._tree: dict[tuple[str, ...], str | tuple[str]] = {(): _FOLDER}  # a symlink: (its target,)
        self._links: list[tuple[str, tuple[str, ...]]] = []

    def check(self, member: tarfile.TarInfo) -> None:
        """Accept ``member`` (and remember where it lands) or raise DataError naming it."""
        self.members += 1
        if self.members > self.max_members:
            raise too_many(self.archive, self.max_members, f"member {member.name!r} is number {self.members}")
        why = name_problem(member.name)
        if why is None:
            try:
                why = self._place(member)
            except _Escapes as err:
                why = str(err)
        if why is not None:
            raise refused(self.archive, member.name, why)

    def finish(self) -> None:
        """After the last member: every symbolic link must still resolve inside the folder (a link added later
        on the path of an earlier one may have changed where that one leads)."""
        for name, key in self._links:
            try:
                self._within_top(key, self._resolve(list(key), follow_last=True))
            except _Escapes as err:
                raise refused(self.archive, name, f"is a symbolic link that, with the links after it, {err}") \
                    from None

    def _within_top(self, key: tuple[str, ...], place: tuple[str, ...]) -> None:
        if self.top is not None and key[:1] == (self.top,) and place[:1] != (self.top,):
            raise _Escapes(f"leads out of the data set's folder {self.top!r}")

    def _place(self, member: tarfile.TarInfo) -> str | None:
        parts = _parts(member.name)
        if not parts:  # "./": the folder itself
            return None if member.isdir() else "names the extraction folder itself"
        parent = self._resolve(parts[:-1], follow_last=True)
        key = parent + (parts[-1],)
        existing = self._tree.get(key)
        if member.isdir():
            if existing not in (None, _FOLDER):
                return f"is a folder in the place of an earlier member ({_kind(existing)})"
            self._add(key, _FOLDER)
            return None
        if existing is not None:
            return f"is in the place of an earlier member ({_kind(existing)}); a member may not replace another"
        if member.isreg():
            self.total += max(member.size, 0)  # the header's size: tarfile writes exactly that many bytes
            if self.total > self.max_bytes:
                raise too_big(self.archive, self.max_bytes, f"member {member.name!r} of {member.size} bytes "
                                                            f"brings the total to {self.total} bytes")
            self._add(key, _FILE)
            return None
        if member.issym():
            return self._symlink(member, parent, key)
        if member.islnk():
            return self._hardlink(member, key)
        return f"is {_KINDS.get(member.type, f'of the unknown member type {member.type!r}')}"

    def _symlink(self, member: tarfile.TarInfo, parent: tuple[str, ...], key: tuple[str, ...]) -> str | None:
        target = member.linkname
        if not target or target.startswith("/") or "\0" in target:
            return f"is a symbolic link to {target!r}: an empty or absolute target"
        if len(target) > MAX_NAME_CHARS:
            return f"is a symbolic link with a target of {len(target)} characters (at most {MAX_NAME_CHARS})"
        try:
            self._within_top(key, self._resolve(list(parent) + target.split("/"), follow_last=True))
        except _Escapes as err:
            return f"is a symbolic link to {target!r} that {err}"
        self._add(key, (target,))
        self._links.append((member.name, key))
        return None

    def _hardlink(self, member: tarfile.TarInfo, key: tuple[str, ...]) -> str | None:
        target = member.linkname
        why = name_problem(target)
        if why is not None:
            return f"is a hard link to {target!r}, which {why}"
        try:
            place = self._resolve(_parts(target), follow_last=True)
        except _Escapes as err:
            return f"is a hard link to {target!r} that {err}"
        if self._tree.get(place) != _FILE:
            return f"is a hard link to {target!r}, which is not a regular file extracted before it"
        self._add(key, _FILE)
        return None

    def _add(self, key: tuple[str, ...], kind: str | tuple[str]) -> None:
        for i in range(1, len(key)):
            self._tree.setdefault(key[:i], _FOLDER)  # folders tarfile makes on the way
        self._tree[key] = kind

    def _resolve(self, parts: list[str], *, follow_last: bool) -> tuple[str, ...]:
        """Where ``parts`` (from the folder) lands, following the links known so far; raises _Escapes."""
        place: list[str] = []
        todo = list(reversed(parts))  # a stack: the next part is the last item
        hops = 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if not place:
                    raise _Escapes("leads outside the extraction folder")
                place.pop()
                continue
            place.append(part)
            entry = self._tree.get(tuple(place))
            if isinstance(entry, tuple) and (todo or follow_last):
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise _Escapes(f"goes through more than {MAX_LINK_HOPS} links")
                if entry[0].startswith("/"):
                    raise _Escapes("leads to an absolute path")
                place.pop()
                todo.extend(reversed(entry[0].split("/")))
        return tuple(place)


def _kind(entry: str | tuple[str] | None) -> str:
    return f"a symbolic link to {entry[0]!r}" if isinstance(entry, tuple) else f"a {entry}"


def zip_entry_count(archive: Path, stop_after: int) -> int:
    """The entries of the zip's central directory, counted from their headers (not from the end record, which may
    lie) and without building them; counting stops at ``stop_after + 1``. 0 when no end record is found (zipfile
    then reports the archive as invalid)."""
    with open(archive, "rb") as fh:
        size = fh.seek(0, 2)
        tail = min(size, 22 + 0xFFFF)
        fh.seek(size - tail)
        data = fh.read(tail)
        at = data.rfind(b"PK\x05\x06")
        if at < 0 or len(data) - at < 22:
            return 0
        end = size - tail + at
        cd_size = struct.unpack_from("<I", data, at + 12)[0]
        fh.seek(max(end - 20, 0))
        locator = fh.read(20)
        if locator[:4] == b"PK\x06\x07":  # zip64: the central directory ends before the zip64 end record
            fh.seek(max(end - 20 - 56, 0))
            record = fh.read(56)
            if record[:4] == b"PK\x06\x06":
                cd_size = struct.unpack_from("<Q", record, 40)[0]
                end -= 20 + 56
        pos, count = max(end - cd_size, 0), 0
        fh.seek(pos)
        while pos + 46 <= end and count <= stop_after:
            head = fh.read(46)
            if len(head) < 46 or head[:4] != b"PK\x01\x02":
                break
            name, extra, comment = struct.unpack_from("<HHH", head, 28)
            fh.seek(name + extra + comment, 1)
            pos += 46 + name + extra + comment
            count += 1
        return count


def check_zip(archive: Path, zf: zipfile.ZipFile, *, max_bytes: int, max_members: int) -> None:
    """Check every entry of an open zip before anything is written; raises DataError naming the first bad one."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise too_many(archive, max_members, f"member {infos[max_members].filename!r} is number {max_members + 1}")
    declared = 0
    for info in infos:
        why = name_problem(info.filename)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if why is None and kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
            why = "is a link or special file (zip archives may hold regular files and folders only)"
        if why is None and info.flag_bits & 0x1:
            why = "is encrypted"
        if why is None and info.compress_type not in _ZIP_METHODS:
            why = f"uses compression method {info.compress_type}, which zipfile cannot read"
        if why is not None:
            raise refused(archive, info.filename, why)
        declared += info.file_size
    if declared > max_bytes:
        raise too_big(archive, max_bytes, f"its members declare {declared} bytes")
    _no_overlap(archive, infos, getattr(zf, "start_dir", None))


def _no_overlap(archive: Path, infos: list[zipfile.ZipInfo], directory: int | None) -> None:
    """Refuse entries whose data overlap: each entry's header and compressed bytes must end before the next starts."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for info, after in zip(ordered, ordered[1:] + [None]):
        end = info.header_offset + _ZIP_LOCAL_HEADER + info.compress_size
        limit = after.header_offset if after is not None else directory
        if limit is not None and end > limit:
            other = repr(after.filename) if after is not None else "the central directory"
            raise refused(archive, info.filename, f"overlaps {other} (entries that share compressed data are a "
                                                  "zip bomb)")


__all__ = ["ALLOWED", "MAX_BYTES_ENV", "MAX_LINK_HOPS", "MAX_MEMBERS_ENV", "MAX_NAME_CHARS", "TarChecker",
           "check_zip", "name_problem", "refused", "too_big", "too_many", "zip_entry_count"]

"""Download and safely extract public data sets: ``translate data download NAME``.

Data sets are declared by plugins through the ``register_data_sources`` hook; each
factory returns a :class:`DataSource`. This module knows no data set by name.

Layout under ``root``::

    root/.downloads/<filename>.part   # while downloading (resumed with an HTTP Range request)
    root/.downloads/<filename>        # complete, verified archive (removed after extraction)
    root/<name>/...                   # the extracted data set

Extraction goes to a temporary folder inside ``root`` and is renamed into place only
when it fully succeeded. Members that could write outside that folder (absolute
paths, ``..``, links pointing outside, device files) are rejected before anything
is written.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import posixpath
import re
import shutil
import stat
import sys
import secrets
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from .errors import DataError, PluginError

if TYPE_CHECKING:
    from .registry import Component, Registry

ArchiveFormat = Literal["tar.gz", "zip", "tar"]
FORMATS: tuple[str, ...] = ("tar.gz", "zip", "tar")
DOWNLOADS = ".downloads"
CHUNK = 1 << 20
TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DataSource:
    """A downloadable archive holding one data set.

    Args:
        name: the folder the data set ends up in (``root/<name>``); a plain name.
        url: ``http(s)://`` address of the archive.
        filename: the archive's file name in ``root/.downloads``; default: the URL's last part.
        size: expected size in bytes, or None when unknown (the server's Content-Length
            is still checked).
        sha256: expected SHA-256 hex digest of the archive, or None.
        archive: ``"tar.gz"``, ``"zip"`` or ``"tar"``.
        strip: the top folder inside the archive whose contents become ``root/<name>``
            (e.g. ``"facades"`` for an archive of ``facades/train/...``); None: the
            archive's whole content becomes ``root/<name>``.
        description: one line for ``translate data list``.
        citation: citation / licence note printed after a download.
        recipes: recipe files or names known to use this data set.
    """

    name: str
    url: str
    filename: str = ""
    size: int | None = None
    sha256: str | None = None
    archive: ArchiveFormat = "tar.gz"
    strip: str | None = None
    description: str = ""
    citation: str = ""
    recipes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not _plain_name(self.name):
            raise ValueError(f"DataSource name must be a plain folder name, got {self.name!r}")
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"DataSource {self.name!r}: url must be http(s)://, got {self.url!r}")
        if not self.filename:
            object.__setattr__(self, "filename", posixpath.basename(urllib.parse.urlsplit(self.url).path))
        if not _plain_name(self.filename):
            raise ValueError(f"DataSource {self.name!r}: filename must be a plain file name, got {self.filename!r}")
        if self.size is not None and (not isinstance(self.size, int) or self.size <= 0):
            raise ValueError(f"DataSource {self.name!r}: size must be a positive int or None, got {self.size!r}")
        if self.sha256 is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
                raise ValueError(f"DataSource {self.name!r}: sha256 must be 64 hex digits")
            object.__setattr__(self, "sha256", self.sha256.lower())
        if self.archive not in FORMATS:
            raise ValueError(f"DataSource {self.name!r}: archive must be one of {FORMATS}, got {self.archive!r}")
        if self.strip is not None and _unsafe_member_name(self.strip):
            raise ValueError(f"DataSource {self.name!r}: strip must be a relative folder, got {self.strip!r}")
        object.__setattr__(self, "recipes", tuple(self.recipes))


def register_archives(
    register: Callable[..., None],
    sets: dict[str, tuple[int | None, str, str]],
    *,
    base_url: str,
    archive: str,
    citation: str,
) -> None:
    """Register one :class:`DataSource` per entry of ``sets`` with a ``register_data_sources`` callback.

    ``sets`` maps a name to ``(size in bytes or None, description, origin of the images)``;
    each archive is ``<base_url><name>.<archive>`` and extracts to a top folder ``<name>/``.
    ``citation`` may contain ``{origin}``.
    """
    for name, (size, description, origin) in sets.items():
        source = DataSource(
            name=name,
            url=f"{base_url}{name}.{archive}",
            filename=f"{name}.{archive}",
            size=size,
            archive=archive,
            strip=name,
            description=description,
            citation=citation.format(origin=origin),
        )
        register(name, _returning(source), description=description, smoke_options={})


def _returning(source: DataSource) -> Callable[[], DataSource]:
    def factory() -> DataSource:
        return source

    factory.__name__ = f"{source.name}_source"
    factory.__doc__ = f"The {source.name!r} data set archive."
    return factory


def _plain_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def format_size(size: int | None) -> str:
    """``30168306`` -> ``"28.8 MiB"``; None -> ``"?"``."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError  # pragma: no cover


# --------------------------------------------------------------------------- download


def download(source: DataSource, root: Path | str, *, progress: bool = True, keep_archive: bool = False) -> Path:
    """Download ``source`` into ``root/.downloads`` and extract it to ``root/<name>``.

    A partial download is resumed. Returns the data set folder. Raises
    :class:`DataError` for network errors, size or checksum mismatches, unsafe or
    corrupt archives, and when ``root/<name>`` already holds data.
    """
    root = Path(root)
    ensure_free(root / source.name)
    try:
        archive = fetch(source, root, progress=progress)
    except BaseException:
        _rmdir_if_empty(root / DOWNLOADS)  # leave no empty folder behind after a failed first try
        raise
    target = extract(source, archive, root)
    if not keep_archive:
        archive.unlink(missing_ok=True)
        _rmdir_if_empty(archive.parent)
    return target


def fetch(source: DataSource, root: Path | str, *, progress: bool = True) -> Path:
    """Download the archive to ``root/.downloads/<filename>`` (resuming a ``.part``) and verify it."""
    downloads = Path(root) / DOWNLOADS
    downloads.mkdir(parents=True, exist_ok=True)
    final = downloads / source.filename
    part = downloads / (source.filename + ".part")
    if final.is_file():
        if _complete(source, final):
            return final
        final.unlink()  # a stale or damaged archive: fetch it again
    total = _fetch_part(source, part, progress=progress, resume=True)
    _verify(source, part, source.size if source.size is not None else total)
    os.replace(part, final)
    return final


def _complete(source: DataSource, path: Path) -> bool:
    size = path.stat().st_size
    if source.size is not None and size != source.size:
        return False
    return source.sha256 is None or _sha256(path) == source.sha256


def _open(url: str, offset: int) -> http.client.HTTPResponse:
    from .version import __version__

    headers = {"User-Agent": f"translate-i2i/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)


def _fetch_part(source: DataSource, part: Path, *, progress: bool, resume: bool) -> int | None:
    """Stream the archive into ``part``, appending when the server honours a Range request.

    Returns the total size the server announced (None when it did not say).
    """
    url = source.url
    offset = part.stat().st_size if resume and part.is_file() else 0
    if source.size is not None and offset > source.size:
        offset = 0  # larger than the whole file: it cannot be a prefix of it
    try:
        resp = _open(url, offset)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            total = _range_total(err.headers.get("Content-Range"))
            if total == offset:  # the .part already holds the whole file
                _check_total(source, total, part)
                return total
            return _fetch_part(source, part, progress=progress, resume=False)
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DataError(f"could not download {url}: {reason}") from None

    with resp:
        if offset and resp.status == 206:
            start, total = _content_range(resp.headers.get("Content-Range"))
            if start != offset:
                resp.close()
                return _fetch_part(source, part, progress=progress, resume=False)
            if total is None:
                length = resp.headers.get("Content-Length")
                total = offset + int(length) if length and length.isdigit() else None
            mode = "ab"
        elif resp.status == 200:
            offset, mode = 0, "wb"  # no (usable) range support: start over
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise DataError(f"download of {url} failed: unexpected HTTP status {resp.status}")
        _check_total(source, total, part)
        _stream(resp, part, mode, offset, source.size or total, url, progress)
    return total


def _check_total(source: DataSource, total: int | None, part: Path) -> None:
    """Raise (and drop the partial file) when the server's total size is not the expected one."""
    if source.size is not None and total is not None and total != source.size:
        part.unlink(missing_ok=True)
        raise DataError(
            f"download of {source.url}: the server offers {total} bytes but data set {source.name!r} "
            f"expects {source.size} bytes (the file on the server may have changed)"
        )


def _stream(resp: http.client.HTTPResponse, part: Path, mode: str, offset: int,
            total: int | None, url: str, progress: bool) -> None:
    from tqdm import tqdm

    written = offset
    with open(part, mode) as fh, tqdm(total=total, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
                                      desc=part.name.removesuffix(".part"), disable=not progress) as bar:
        while True:
            try:
                chunk = resp.read(CHUNK)
            except (http.client.HTTPException, OSError) as err:
                raise DataError(
                    f"download of {url} was interrupted after {written} bytes ({type(err).__name__}); "
                    "run the command again to resume"
                ) from None
            if not chunk:
                break
            fh.write(chunk)
            written += len(chunk)
            bar.update(len(chunk))


def _verify(source: DataSource, part: Path, expected: int | None) -> None:
    size = part.stat().st_size
    if expected is not None and size < expected:
        raise DataError(
            f"download of {source.url} ended early: got {size} of {expected} bytes "
            f"(kept in {part}); run the command again to resume"
        )
    if expected is not None and size > expected:
        part.unlink()
        raise DataError(f"download of {source.url}: got {size} bytes, expected {expected}; removed the download")
    if source.sha256 is not None:
        digest = _sha256(part)
        if digest != source.sha256:
            part.unlink()
            raise DataError(
                f"download of {source.url}: SHA-256 is {digest}, expected {source.sha256}; removed the download"
            )


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """``"bytes 10-99/100"`` -> ``(10, 100)``; the total is None when ``*``."""
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not m:
        return None, None
    return int(m.group(1)), None if m.group(3) == "*" else int(m.group(3))


def _range_total(value: str | None) -> int | None:
    m = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value or "")
    return int(m.group(1)) if m else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _rmdir_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


# --------------------------------------------------------------------------- extraction


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
        _check_links(tmp)
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


def _unsafe_member_name(name: str) -> str | None:
    """Why an archive member name could escape the extraction folder, or None when it is safe."""
    if not name:
        return "an empty name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "a '..' component"
    if "\0" in name:
        return "a NUL byte"
    return None


def _escapes(link_dir: str, linkname: str) -> bool:
    """Whether ``linkname``, seen from archive folder ``link_dir``, points outside the archive root."""
    if _unsafe_member_name(linkname) == "an absolute path":
        return True
    resolved = posixpath.normpath(posixpath.join(link_dir, linkname.replace("\\", "/")))
    return resolved == ".." or resolved.startswith("../") or resolved.startswith("/")


def _inside(base: str, path: str) -> bool:
    """Whether ``path``, with every link already on disk followed, lies in the real folder ``base``."""
    real = os.path.realpath(path)
    return real == base or real.startswith(base + os.sep)


def _check_tar_member(member: tarfile.TarInfo, archive: Path, dest: str) -> None:
    """Reject a member that could write outside ``dest`` (a real path), before it is extracted.

    Names and link targets are checked as text, then resolved against what is
    already extracted (a link planted by an earlier member cannot be used to escape).
    """
    name, link = member.name, member.linkname
    why = _unsafe_member_name(name)
    if why is None and not _inside(dest, os.path.join(dest, name)):
        why = "a path that leads outside the data set folder through a link"
    elif why is None and member.issym() and (
        _escapes(posixpath.dirname(name), link) or not _inside(dest, os.path.join(dest, os.path.dirname(name), link))
    ):
        why = f"a symbolic link to {link!r} outside the data set folder"
    elif why is None and member.islnk() and (_escapes("", link) or not _inside(dest, os.path.join(dest, link))):
        why = f"a hard link to {link!r} outside the data set folder"
    elif why is None and not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        why = "a device file, FIFO or other special file"
    if why is not None:
        raise DataError(f"refusing to extract {archive}: member {name!r} has {why}")


_FILTER_ERROR: type[Exception] | tuple[()] = getattr(tarfile, "FilterError", ())
"""tarfile's extraction-filter error (Python >= 3.11.4 / 3.10.12); nothing to catch on older ones."""


def _extract_tar(archive: Path, dest: Path, mode: str) -> None:
    """Extract member by member in one streaming pass; every member is checked before it is written."""
    kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    real_dest = os.path.realpath(dest)
    with tarfile.open(archive, mode) as tf:
        for member in tf:
            _check_tar_member(member, archive, real_dest)
            try:
                tf.extract(member, dest, **kwargs)
            except _FILTER_ERROR as err:
                raise DataError(f"refusing to extract {archive}: {err}") from None


def _extract_zip(archive: Path, dest: Path) -> None:
    """Check every member first (zip has a central directory), then extract."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            why = _unsafe_member_name(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)
            if why is None and kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                why = "a link or special file type (not supported in zip archives)"
            if why is not None:
                raise DataError(f"refusing to extract {archive}: member {info.filename!r} has {why}")
        for info in zf.infolist():
            zf.extract(info, dest)


def _check_links(folder: Path) -> None:
    """Last line of defence: no symbolic link under ``folder`` may resolve outside it."""
    base = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path) and not _inside(base, path):
                raise DataError(f"refusing to extract: {os.path.relpath(path, folder)} links outside the data set")


# --------------------------------------------------------------------------- CLI


def data_cli(args: argparse.Namespace, registry: Registry | None = None) -> int:
    """``translate data list`` and ``translate data download NAME [--root DIR]``."""
    if registry is None:
        from .plugins import get_registry

        registry = get_registry()
    if args.data_command == "list":
        return _list(registry)
    if args.data_command == "download":
        return _download(registry, args.name, Path(args.root))
    raise AssertionError(args.data_command)


def source_of(component: Component) -> DataSource:
    """Call a registered data-source factory and check that it returned a DataSource."""
    where = f"plugin {component.plugin.name!r} ({component.plugin.distribution})"
    try:
        source = component.factory()
    except Exception as exc:  # noqa: BLE001 - a broken plugin is reported, not a traceback
        raise PluginError(f"{where}: data source {component.name!r} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(source, DataSource):
        raise PluginError(f"{where}: data source {component.name!r} returned {type(source).__name__}, not a DataSource")
    if source.name != component.name:
        raise PluginError(f"{where}: data source registered as {component.name!r} is named {source.name!r}")
    return source


def _list(registry: Registry) -> int:
    names = registry.names("data_source")
    if not names:
        print("no downloadable data sets installed")
        return 0
    width = max(len(n) for n in names)
    for name in names:
        comp = registry.get("data_source", name)
        try:
            source = source_of(comp)
        except PluginError as err:
            print(f"{name:<{width}}  {'':>10}  (broken: {err})")
            continue
        print(f"{name:<{width}}  {format_size(source.size):>10}  {comp.description or source.description}")
    return 0


def _download(registry: Registry, name: str, root: Path) -> int:
    source = source_of(registry.get("data_source", name))
    print(f"downloading {source.name} ({format_size(source.size)}) from {source.url}", file=sys.stderr)
    target = download(source, root, progress=True)
    splits = sorted(p.name for p in target.iterdir() if p.is_dir())
    print(f"{source.name}: extracted to {target}" + (f" (folders: {', '.join(splits)})" if splits else ""))
    recipes = find_recipes(source)
    if recipes:
        print("recipes that may use it:\n" + "\n".join(f"  {r}" for r in recipes))
    else:
        print(f"no recipe mentions {source.name!r}; point your recipe's data options at {target}")
    if source.citation:
        print(f"note: {source.citation}")
    return 0


def find_recipes(source: DataSource, folders: list[Path] | None = None) -> list[str]:
    """Recipes declared by the source, plus ``recipes/**/*.toml`` files that mention its name."""
    if folders is None:
        folders = [Path("recipes"), Path(__file__).resolve().parent.parent / "recipes"]
    found = list(source.recipes)
    word = re.compile(rf"(?<![\w-]){re.escape(source.name)}(?![\w-])")
    seen: set[Path] = set()
    for folder in folders:
        if not folder.is_dir() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        for path in sorted(folder.rglob("*.toml")):
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            if word.search(text) and str(path) not in found:
                found.append(str(path))
    return found


__all__ = ["DataSource", "download", "fetch", "extract", "ensure_free", "data_cli", "find_recipes", "format_size"]

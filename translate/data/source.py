"""The data-source contract: a public archive that ``translate data download NAME`` fetches.

Plugins declare data sources through the ``register_data_sources`` hook, each factory
returning a :class:`DataSource`; :func:`register_archives` registers a family of archives
that share a server and a layout. Downloading and extracting live in :mod:`translate.data.download`.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Callable, Literal

ArchiveFormat = Literal["tar.gz", "zip", "tar"]
FORMATS: tuple[str, ...] = ("tar.gz", "zip", "tar")


def plain_name(name: object) -> bool:
    """Whether ``name`` is a plain file or folder name (no separators, not ``.`` or ``..``)."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def unsafe_member_name(name: str) -> str | None:
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
        if not plain_name(self.name):
            raise ValueError(f"DataSource name must be a plain folder name, got {self.name!r}")
        scheme = urllib.parse.urlsplit(self.url).scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"DataSource {self.name!r}: url must be http(s)://, got {self.url!r}")
        if not self.filename:
            object.__setattr__(self, "filename", posixpath.basename(urllib.parse.urlsplit(self.url).path))
        if not plain_name(self.filename):
            raise ValueError(f"DataSource {self.name!r}: filename must be a plain file name, got {self.filename!r}")
        if self.size is not None and (not isinstance(self.size, int) or self.size <= 0):
            raise ValueError(f"DataSource {self.name!r}: size must be a positive int or None, got {self.size!r}")
        if self.sha256 is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256):
                raise ValueError(f"DataSource {self.name!r}: sha256 must be 64 hex digits")
            object.__setattr__(self, "sha256", self.sha256.lower())
        if self.archive not in FORMATS:
            raise ValueError(f"DataSource {self.name!r}: archive must be one of {FORMATS}, got {self.archive!r}")
        if self.strip is not None and unsafe_member_name(self.strip):
            raise ValueError(f"DataSource {self.name!r}: strip must be a relative folder, got {self.strip!r}")
        object.__setattr__(self, "recipes", tuple(self.recipes))


def register_archives(register: Callable[..., None], sets: dict[str, tuple[int | None, str, str]], *,
                      base_url: str, archive: str, citation: str) -> None:
    """Register one :class:`DataSource` per entry of ``sets`` with a ``register_data_sources`` callback.

    ``sets`` maps a name to ``(size in bytes or None, description, origin of the images)``;
    each archive is ``<base_url><name>.<archive>`` and extracts to a top folder ``<name>/``.
    ``citation`` may contain ``{origin}``.
    """
    for name, (size, description, origin) in sets.items():
        source = DataSource(name=name, url=f"{base_url}{name}.{archive}", filename=f"{name}.{archive}", size=size,
                            archive=archive, strip=name, description=description,  # type: ignore[arg-type]
                            citation=citation.format(origin=origin))
        register(name, _returning(source), description=description, smoke_options={})


def _returning(source: DataSource) -> Callable[[], DataSource]:
    def factory() -> DataSource:
        return source

    factory.__name__ = f"{source.name}_source"
    factory.__doc__ = f"The {source.name!r} data set archive."
    return factory

"""Download and safely extract public data sets: ``translate data download NAME``.

Data sets are declared by plugins through the ``register_data_sources`` hook; each
factory returns a :class:`~translate.data_source.DataSource` (the contract, in
:mod:`translate.data_source`, re-exported here). This package knows no data set by name.

- :mod:`.fetch`: HTTP download with resume, size and SHA-256 checks (:func:`fetch`);
- :mod:`.extract`: safe extraction into ``root/<name>`` (:func:`extract`);
- :mod:`.install`: both in a row (:func:`download`);
- :mod:`.cli`: ``translate data list|download`` (:func:`data_cli`, :func:`source_of`, :func:`find_recipes`).
"""

from __future__ import annotations

from ..data_source import DataSource, register_archives
from .cli import data_cli, find_recipes, format_size, source_of
from .extract import ensure_free, extract
from .fetch import fetch
from .install import download

__all__ = [
    "DataSource",
    "data_cli",
    "download",
    "ensure_free",
    "extract",
    "fetch",
    "find_recipes",
    "format_size",
    "register_archives",
    "source_of",
]

"""Download and safely extract public data sets: ``translate data download NAME``.

Data sets are declared by plugins through the ``register_data_sources`` hook; each
factory returns a :class:`~translate.data.source.DataSource` (the contract, in
:mod:`translate.data.source`, re-exported here). This package knows no data set by name.

- :mod:`.fetch`: HTTP download with resume, size and SHA-256 checks (:func:`fetch`);
- :mod:`.extract`: safe extraction into ``root/<name>`` (:func:`extract`);
- :mod:`.install`: both in a row (:func:`download`);
(``translate data list|download`` is :mod:`translate.commands.download`).
"""

from __future__ import annotations

from ..source import DataSource, register_archives
from .extract import ensure_free, extract
from .fetch import fetch
from .install import download

__all__ = [
    "DataSource",
    "download",
    "ensure_free",
    "extract",
    "fetch",
    "register_archives",
]

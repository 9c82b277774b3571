"""The run report: one self-contained HTML page per run folder (``translate report RUN``).

:func:`write_report` reads the run folder (:mod:`.run_folder`), draws the plots (:mod:`.plots`),
renders the sections (:mod:`.sections`) and writes the page atomically (:mod:`.page`).
"""

from __future__ import annotations

from ...run.folder import NotARunFolder
from .page import REPORT_FILE, write_report

__all__ = ["NotARunFolder", "REPORT_FILE", "write_report"]

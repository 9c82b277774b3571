"""Markdown escaping for generated pages (the recipe reference, model cards)."""

from __future__ import annotations


def md_text(text: object) -> str:
    """Plain text (a description) for Markdown: ``<`` and ``*`` escaped outside code spans."""
    parts = str(text).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("*", "\\*").replace("<", "&lt;")
    return "`".join(parts)


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell or a one-line paragraph (one line, ``|`` and ``<`` escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def md_table(header: list[str], rows: list[list[object]]) -> list[str]:
    """The lines of a Markdown table; cells are made single-line and ``|`` is escaped."""
    def cell(text: object) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines

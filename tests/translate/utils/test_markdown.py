"""The Markdown escapers shared by the recipe reference and the model cards."""

from __future__ import annotations

from translate.utils.markdown import md_cell, md_table, md_text


def test_md_text_escapes_outside_code_spans_only() -> None:
    assert md_text("a <b> *c* `<d> *e*`") == "a &lt;b> \\*c\\* `<d> *e*`"


def test_md_cell_is_one_line_and_escapes_pipes_and_tags() -> None:
    assert md_cell("a | b\n  <c>") == "a \\| b &lt;c>"


def test_md_table_keeps_code_spans_and_escapes_pipes() -> None:
    lines = md_table(["key", "note"], [["`[losses.<role>]`", "x | y\nz"]])
    assert lines == ["| key | note |", "|---|---|", "| `[losses.<role>]` | x \\| y z |"]

"""The comparison page of ``translate infer --html``: ``DIR/index.html``, one row per input.

Each row shows name | input | output (| target), with links relative to ``DIR``; the inputs
(as the network saw them: EXIF-oriented, channel-converted, the input half of a pair) are copied
as PNG under ``DIR/inputs/`` and targets under ``DIR/targets/``, so the folder is self-contained.
The page is written atomically; names are HTML-escaped and links URL-quoted.
"""

from __future__ import annotations

import html as htmllib
from pathlib import Path
from urllib.parse import quote

from ..errors import DataError
from ..utils.atomic import write_text_atomic
from .inputs import InputImage

HTML_INPUTS = "inputs"
"""The output subfolder holding the input copies."""
HTML_TARGETS = "targets"
"""The output subfolder holding the target halves of pairs."""

_STYLE = (
    "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
    "img{max-width:320px;max-height:320px;image-rendering:pixelated}.error{color:#b00}</style>"
)


def check_html_names(items: list[InputImage], pairs: bool) -> None:
    """Refuse outputs whose names the input (and target) copies would take.

    Raises:
        DataError: an output lies under ``inputs/`` or ``targets/`` with a copy's name (up to
            five are named).
    """
    outputs = {item.relative for item in items}
    copies = {Path(HTML_INPUTS) / item.relative for item in items}
    if pairs:
        copies |= {Path(HTML_TARGETS) / item.relative for item in items}
    clash = sorted(outputs & copies)
    if clash:
        raise DataError(
            f"--html copies inputs to {HTML_INPUTS}/ (and targets to {HTML_TARGETS}/) in the output folder, "
            f"but these outputs would take the same names: {', '.join(p.as_posix() for p in clash[:5])}; "
            "rename the input subfolder or run without --html"
        )


def _href(*parts: str | Path) -> str:
    return htmllib.escape(quote("/".join(Path(p).as_posix() for p in parts)), quote=True)


def write_html(
    out_dir: str | Path, items: list[InputImage], rows: dict[Path, str], *, pairs: bool = False, title: str = ""
) -> Path:
    """Write ``out_dir/index.html`` atomically: name | input | output (| target), one row per item.

    Args:
        out_dir: the output folder; links are relative to it.
        items: the inputs, in row order.
        rows: relative output name -> ``""`` when written, else the error message.
        pairs: add the target column.
        title: the page title and heading (default ``translate infer``).

    Returns:
        The page's path.
    """
    out = Path(out_dir)
    heads = ["name", "input", "output"] + (["target"] if pairs else [])
    esc = htmllib.escape
    body = []
    for item in items:
        rel = item.relative
        error = rows.get(rel)
        name = esc(rel.with_suffix("").as_posix())
        source = esc(str(item.source))
        cells = [f'<td class="name" title="{source}">{name}</td>']
        if error:
            cells.append(f'<td class="error" colspan="{len(heads) - 1}">failed: {esc(error)}</td>')
        else:
            for folder in [HTML_INPUTS, "", HTML_TARGETS][: len(heads) - 1]:
                link = _href(folder, rel) if folder else _href(rel)
                cells.append(f'<td><a href="{link}"><img src="{link}" alt="{name}" loading="lazy"></a></td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    failed = sum(1 for m in rows.values() if m)
    heading = esc(title or "translate infer")
    page = "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{heading}</title>",
        _STYLE,
        "</head>",
        "<body>",
        f"<h1>{heading}</h1>",
        f"<p>{len(items) - failed} translated, {failed} failed.</p>",
        "<table>",
        "<tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>",
        *body,
        "</table>",
        "</body>",
        "</html>",
        "",
    ])
    path = out / "index.html"
    write_text_atomic(path, page)
    return path


__all__ = ["HTML_INPUTS", "HTML_TARGETS", "check_html_names", "write_html"]

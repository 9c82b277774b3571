"""``write_report``: one self-contained HTML page for a run folder (``RUN/report.html``), and its
plots as PNG files beside it (``RUN/report/*.png``).

Both are replaced atomically: the plots are written to a temp folder that then takes the old
folder's place, and the page is written to a temp file renamed over the old one. An existing
``report/`` that holds anything but PNG files is not ours and is never replaced.
"""

from __future__ import annotations

import html
import shutil
import tempfile
import time
from pathlib import Path

from ...errors import TranslateError
from ...run.folder import RunContents, read_run_folder
from ...run.layout import RunFolder
from ...utils.atomic import umask, write_text_atomic
from ...version import __version__
from .plots import Plot, all_plots
from .sections import (
    environment_section,
    evaluation_section,
    plot_section,
    recipe_section,
    samples_section,
    timing_section,
)

REPORT_FILE = RunFolder.REPORT

_STYLE = """<style>
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f4f4f4}table.kv td:first-child{font-family:monospace}
pre.recipe{background:#f7f7f7;border:1px solid #ddd;padding:.8em;overflow:auto;max-height:40em}
figure{margin:.5em 0}figure.plot img{max-width:100%;height:auto}
.samples{display:flex;flex-wrap:wrap;gap:1em}.sample img{image-rendering:pixelated;max-width:100%;height:auto;
border:1px solid #ddd}figcaption{font-size:.9em;color:#555}.missing{color:#8a5300;font-style:italic}
nav a{margin-right:1em}
</style>"""

_SECTIONS = [("recipe", "Recipe"), ("losses", "Losses"), ("metrics", "Metrics"), ("lr", "Learning rates"),
             ("throughput", "Throughput"), ("samples", "Samples"), ("evaluation", "Evaluation"),
             ("timing", "Timing"), ("environment", "Environment")]


def assets_folder(out: Path) -> Path:
    """Where the PNG copies of the plots go: ``report.html`` -> ``report/``."""
    return out.parent / (out.stem if out.suffix else out.name + "-files")


def _replace_assets(folder: Path, plots: list[Plot]) -> None:
    if folder.exists() and (not folder.is_dir() or any(not p.is_file() or p.suffix != ".png"
                                                       for p in folder.iterdir())):
        raise TranslateError(f"{folder} exists and holds more than a report's PNG files; it is not replaced "
                             "(move it away, or write the report elsewhere with --out)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    old = None
    try:
        for plot in plots:
            (tmp / plot.name).write_bytes(plot.png)
        tmp.chmod(0o777 & ~umask())  # mkdtemp makes 0700
        if folder.exists():
            old = folder.with_name(f"{tmp.name}.old")
            folder.rename(old)
        tmp.rename(folder)
    except BaseException:
        if old is not None and not folder.exists():
            old.rename(folder)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def render(run: RunContents, plots: list[Plot]) -> str:
    """The whole page as one HTML string."""
    esc = html.escape
    by_name = {p.name: p for p in plots}
    name = run.path.resolve().name or str(run.path)
    last_step = max((int(r["step"]) for r in run.records if isinstance(r.get("step"), int)), default=None)
    missing = list(run.notes.values())
    summary = [f"<p>Run folder <code>{esc(str(run.path))}</code>"
               + (f", {last_step} steps logged" if last_step is not None else "")
               + f". Report written {esc(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))} by translate "
               f"{esc(__version__)}.</p>"]
    if missing:
        summary.append("<p>Not in this report:</p><ul class=\"missing\">"
                       + "".join(f"<li>{esc(m)}</li>" for m in missing) + "</ul>")
    nav = "<nav>" + "".join(f'<a href="#{key}">{label}</a>' for key, label in _SECTIONS) + "</nav>"
    no_log = run.notes.get("metrics", "metrics.jsonl has no such values")
    sections = {
        "recipe": recipe_section(run),
        "losses": plot_section(by_name.get("losses.png"), "Losses", no_log if not run.records
                               else "metrics.jsonl logs no losses"),
        "metrics": plot_section(by_name.get("metrics.png"), "Evaluation metrics during training",
                                no_log if not run.records else
                                "no eval/* values in metrics.jsonl (the recipe has no [eval] table with every > 0)"),
        "lr": plot_section(by_name.get("learning_rates.png"), "Learning rates", no_log if not run.records
                           else "metrics.jsonl logs no learning rates"),
        "throughput": plot_section(by_name.get("images_per_s.png"), "Throughput", no_log if not run.records
                                   else "metrics.jsonl logs no images/s"),
        "samples": samples_section(run),
        "evaluation": evaluation_section(run),
        "timing": timing_section(run),
        "environment": environment_section(run),
    }
    body = "".join(f'<section id="{key}">{sections[key]}</section>' for key, _ in _SECTIONS)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', '<head><meta charset="utf-8">',
        # no external resources at all; an inline favicon keeps the browser from asking for /favicon.ico
        '<link rel="icon" href="data:,">',
        f"<title>translate run report: {esc(name)}</title>", _STYLE, "</head>", "<body>",
        f"<h1>Run report: {esc(name)}</h1>", *summary, nav, body, "</body>", "</html>", "",
    ])


def write_report(run_dir: str | Path, *, out: str | Path | None = None) -> Path:
    """Write the run report of ``run_dir``: ``out`` (default ``RUN/report.html``) and the plots as
    PNG files in the folder beside it named after it (``RUN/report/``). Returns the page's path.

    Missing pieces (no samples, no evaluation, no environment record, an interrupted run) are
    named on the page instead of failing.

    Raises:
        NotARunFolder: ``run_dir`` has neither ``recipe.toml`` nor ``metrics.jsonl``.
        TranslateError: the plots' folder exists and holds files that are not a report's PNGs.
    """
    return write_run_report(read_run_folder(run_dir), out=out)


def write_run_report(run: RunContents, *, out: str | Path | None = None) -> Path:
    """:func:`write_report` for a run folder already read (:func:`~.run_folder.read_run_folder`)."""
    page = Path(out) if out is not None else RunFolder(run.path).report
    if page.is_dir():
        raise TranslateError(f"{page} is a folder; give the HTML file to write (--out FILE), "
                             f"e.g. {page / REPORT_FILE}")
    plots = all_plots(run)
    _replace_assets(assets_folder(page), plots)
    write_text_atomic(page, render(run, plots))
    return page


__all__ = ["REPORT_FILE", "assets_folder", "render", "write_report", "write_run_report"]

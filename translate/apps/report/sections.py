"""The HTML sections of the run report. Everything read from the run folder is escaped; images
are embedded as ``data:`` URIs, so the page needs no server, no network and no JavaScript."""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

from ...run.folder import RunContents, fmt, number
from .plots import Plot

MAX_SAMPLES = 24
"""More sample grids than this: an evenly spaced subset (first and last included)."""
MAX_SIDE = 1600
"""Sample grids larger than this (pixels, either side) are downscaled for the page."""

esc = html.escape


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def missing(text: str) -> str:
    return f'<p class="missing">{esc(text)}</p>'


def table(header: list[str], rows: list[list[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{esc(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def flatten(data: Any, prefix: str = "") -> list[list[str]]:
    """Nested dicts as ``dotted.key | value`` rows (lists and scalars as JSON text)."""
    if isinstance(data, dict) and data:
        rows: list[list[str]] = []
        for key, value in data.items():
            rows += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return rows
    text = data if isinstance(data, str) else json.dumps(data)
    return [[prefix, text]]


def evenly_spaced(items: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` items spread evenly over ``items``, the first and the last included."""
    if len(items) <= limit:
        return list(items)
    if limit <= 1:
        return items[-1:]
    picks = sorted({round(i * (len(items) - 1) / (limit - 1)) for i in range(limit)})
    return [items[i] for i in picks]


def plot_section(plot: Plot | None, title: str, absent: str) -> str:
    if plot is None:
        return f"<h2>{esc(title)}</h2>" + missing(absent)
    return (f"<h2>{esc(plot.title)}</h2><figure class=\"plot\"><img src=\"{data_uri(plot.png)}\" "
            f"alt=\"{esc(plot.title)}\"><figcaption>{esc(plot.caption)} (also saved as "
            f"{esc(plot.name)})</figcaption></figure>")


def _sample_png(path: Path) -> tuple[bytes, int, int, str]:
    """The PNG bytes for the page (downscaled when huge), its size, and a note."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        width, height = im.size
        if max(width, height) <= MAX_SIDE:
            return path.read_bytes(), width, height, ""
        im = im.convert("RGB")
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue(), im.width, im.height, f", downscaled from {width}x{height}"


def samples_section(run: RunContents) -> str:
    out = ["<h2>Sample grids</h2>"]
    if not run.samples:
        return out[0] + missing(run.notes.get("samples", "no sample grids"))
    shown = evenly_spaced(run.samples, MAX_SAMPLES)
    if len(shown) < len(run.samples):
        out.append(f"<p>{len(shown)} of {len(run.samples)} grids, evenly spaced over the run.</p>")
    out.append('<div class="samples">')
    for step, path in shown:
        try:
            png, width, height, note = _sample_png(path)
        except Exception as exc:  # noqa: BLE001 - a broken image is reported on the page
            out.append(f'<figure class="sample broken"><figcaption>step {step}: {esc(path.name)} could not be '
                       f"read ({esc(type(exc).__name__)}: {esc(str(exc))})</figcaption></figure>")
            continue
        scale = max(1, min(4, 480 // max(width, 1)))  # tiny grids are shown enlarged, pixel by pixel
        out.append(f'<figure class="sample"><img src="{data_uri(png)}" width="{width * scale}" '
                   f'height="{height * scale}" alt="samples at step {step}"><figcaption>step {step} '
                   f"({esc(path.name)}, {width}x{height}{esc(note)})</figcaption></figure>")
    out.append("</div>")
    return "".join(out)


def evaluation_section(run: RunContents) -> str:
    out = ["<h2>Evaluation</h2>"]
    ev = run.evaluation
    if ev is None:
        out.append(missing(run.notes.get("evaluation", "no evaluation")))
    else:
        values = ev.get("values") if isinstance(ev.get("values"), dict) else {}
        better = ev.get("higher_is_better") if isinstance(ev.get("higher_is_better"), dict) else {}
        rows = []
        for key, value in values.items():
            hib = better.get(key)
            rows.append([key, fmt(value), "higher" if hib is True else "lower" if hib is False else "?"])
        out.append(table(["metric", "value", "better"], rows, "values") if rows else missing(
            "evaluation.json lists no values"))
        for part, title in (("protocol", "Protocol"), ("model", "Model"), ("data", "Data")):
            if isinstance(ev.get(part), dict) and ev[part]:
                out.append(f"<h3>{title}</h3>" + table(["key", "value"], flatten(ev[part]), "kv"))
        extra = {k: ev[k] for k in ("translate_version", "created") if k in ev}
        if extra:
            out.append(table(["key", "value"], flatten(extra), "kv"))
    if run.best is not None:
        b = run.best
        out.append(f"<p class=\"best\">Best checkpoint by {esc(str(b.get('key', '?')))}: "
                   f"{esc(fmt(b.get('value', '?')))} at step {esc(str(b.get('step', '?')))}"
                   + (f" ({esc(str(b['checkpoint']))})" if b.get("checkpoint") else "") + ".</p>")
        out.append(final_and_best(run))
    elif "best" in run.notes:
        out.append(missing(run.notes["best"]))
    if ev is not None and isinstance(ev.get("published"), list) and ev["published"]:
        out.append(published_section(ev["published"]))
    return "".join(out)


def final_and_best(run: RunContents) -> str:
    """The final model's values beside those logged at the best step, when ``eval.best`` chose another step;
    with the split the choice was made on, and a warning when that is the test split."""
    ev, best = run.evaluation or {}, run.best or {}
    model = ev.get("model") if isinstance(ev.get("model"), dict) else {}
    final_step, best_step = model.get("step"), best.get("step")
    if not isinstance(best_step, int) or best_step == final_step:
        return ""
    logged: dict[str, Any] = {}
    for rec in run.records:
        if rec.get("step") == best_step:
            logged.update({k[5:]: v for k, v in rec.items() if k.startswith("eval/")})
    final = ev.get("values") if isinstance(ev.get("values"), dict) else {}
    keys = list(dict.fromkeys([*final, *logged]))
    if not keys:
        return ""
    rows = [[k, fmt(final[k]) if k in final else "", fmt(logged[k]) if k in logged else ""] for k in keys]
    split = (ev.get("data") or {}).get("split") if isinstance(ev.get("data"), dict) else None
    text = (f"<h3>Final and best</h3><p>Both candidates: the final model (step {esc(str(final_step))}) and the "
            f"best checkpoint (step {best_step}), chosen by {esc(str(best.get('key', '?')))}"
            + (f" on the {esc(str(split))} split" if split else "") + ".</p>")
    if split == "test":
        text += ("<p class=\"warning\">The best checkpoint was chosen on the test split: that is selection on "
                 "the test set, so its value is optimistic. Compare the final model's value with papers that "
                 "report their final model.</p>")
    return text + table(["metric", f"final (step {final_step})", f"best (step {best_step})"], rows, "values")


def published_section(published: list[Any]) -> str:
    """Published numbers beside the model's own (evaluation.json's ``published``)."""
    rows = []
    for p in published:
        if not isinstance(p, dict):
            continue
        verdict = {True: "yes", None: "protocol not stated"}.get(
            p.get("comparable"), "no: " + "; ".join(str(d) for d in p.get("differs") or []))
        diff = p.get("difference")
        rows.append([p.get("metric", "?"), p.get("source", "?"), fmt(p.get("published")),
                     "not evaluated" if p.get("value") is None else fmt(p.get("value")),
                     f"{diff:+.4g}" if isinstance(diff, (int, float)) else "", verdict])
    return "<h3>Published results</h3>" + table(["metric", "source", "published", "this model", "difference",
                                                 "comparable"], rows, "values")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def timing_section(run: RunContents) -> str:
    out = ["<h2>Timing</h2>"]
    times = [float(r["time"]) for r in run.records if number(r.get("time")) is not None]
    steps = [int(r["step"]) for r in run.records if number(r.get("step")) is not None]
    if not times:
        return out[0] + missing(run.notes.get("metrics", "no timed records in metrics.jsonl"))
    rates = [float(r["images_per_s"]) for r in run.records if number(r.get("images_per_s")) is not None]
    stamp = "%Y-%m-%d %H:%M:%S UTC"
    rows = [["first logged step", time.strftime(stamp, time.gmtime(min(times)))],
            ["last logged step", time.strftime(stamp, time.gmtime(max(times)))],
            ["wall time between them (h:mm:ss)", _duration(max(times) - min(times))],
            ["steps", f"{max(steps) if steps else '?'} (last logged), {len(run.records)} records"]]
    if rates:
        rows += [["images/s, mean", f"{sum(rates) / len(rates):.4g}"], ["images/s, last", f"{rates[-1]:.4g}"]]
    out.append(table(["what", "value"], rows, "kv"))
    if run.bad_lines:
        out.append(missing(f"{run.bad_lines} line(s) of metrics.jsonl could not be read (cut by a kill?)"))
    return "".join(out)


def environment_section(run: RunContents) -> str:
    out = ["<h2>Environment</h2>"]
    env = run.environment
    if env is None:
        return out[0] + missing(run.notes.get("environment", "the environment was not recorded"))
    rest = {k: v for k, v in env.items() if k != "plugins"}
    out.append(table(["key", "value"], flatten(rest), "kv"))
    plugins = env.get("plugins")
    if isinstance(plugins, list) and plugins:
        rows = [[p.get("name", "?"), p.get("distribution", "?"), p.get("version", p.get("error", "?"))]
                for p in plugins if isinstance(p, dict)]
        out.append("<h3>Plugins</h3>" + table(["plugin", "distribution", "version (or load error)"], rows))
    return "".join(out)


def recipe_section(run: RunContents) -> str:
    if run.recipe is None:
        return "<h2>Recipe</h2>" + missing(run.notes.get("recipe", "recipe.toml not found"))
    return f"<h2>Recipe</h2><p>The resolved recipe (recipe.toml):</p><pre class=\"recipe\">{esc(run.recipe)}</pre>"


__all__ = ["data_uri", "evaluation_section", "final_and_best", "published_section", "environment_section", "evenly_spaced", "flatten",
           "plot_section", "recipe_section", "samples_section", "timing_section"]

"""The report's plots (matplotlib): losses per network group, evaluation metrics, learning rates,
images/s over time; each returned as PNG bytes.

Figures are made with :class:`matplotlib.figure.Figure` and saved through the Agg canvas directly,
so pyplot, the global backend and the global figure list are never touched (safe inside a
process that has its own matplotlib setup).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

from ...run.folder import RunContents

MAX_COLUMNS = 3


@dataclass
class Plot:
    """One figure: its file name under ``RUN/report/``, a title, a caption and the PNG bytes."""

    name: str
    title: str
    caption: str
    png: bytes


def loss_groups(loss_keys: list[str], optimizer_names: list[str]) -> dict[str, list[str]]:
    """Loss keys grouped by network: a key belongs to the longest optimizer name it starts with
    (``G``, ``G_gan``, ``G/l1`` -> ``G``); without optimizer names, by the part before ``_`` or ``/``."""
    groups: dict[str, list[str]] = {}
    names = sorted(optimizer_names, key=len, reverse=True)
    for key in loss_keys:
        group = next((n for n in names if key == n or key.startswith((n + "_", n + "/"))), None)
        if group is None:
            group = "other losses" if names else key.replace("/", "_").split("_", 1)[0]
        groups.setdefault(group, []).append(key)
    return groups


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # attach the Agg canvas to this figure only
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return buf.getvalue()


def _panels(count: int, columns: int, width: float = 4.4, height: float = 3.0) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    cols = max(1, min(columns, count))
    rows = math.ceil(count / cols)
    fig = Figure(figsize=(width * cols, height * rows))
    axes = [fig.add_subplot(rows, cols, i + 1) for i in range(count)]
    return fig, axes


def _draw(ax: Any, steps: list[float], values: list[float], label: str, **style: Any) -> int:
    """Draw the finite points of one series (``style``: matplotlib line options over the defaults); return
    how many were not finite (left out)."""
    points = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, label=label, **{"marker": "o" if len(points) <= 20 else None, "markersize": 3,
                                        "linewidth": 1.2, **style})
    return len(values) - len(points)


_DASHES = ("--", ":", "-.", (0, (5, 2, 1, 2)))


def curve_styles(series: dict[str, tuple[list[float], list[float]]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The legend label and line style of each named series, so that equal curves stay visible: the first of
    a set of equal series is drawn solid and wide, each later one dashed on top of it and labelled
    ``"name (= first)"`` (two optimizers with the same schedule would otherwise hide one line)."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    firsts: dict[tuple[tuple[float, ...], tuple[float, ...]], list[str]] = {}
    for name, (steps, values) in series.items():
        same = firsts.setdefault((tuple(steps), tuple(values)), [])
        if not same:
            out[name] = (name, {})
        else:
            out[same[0]][1].update(linewidth=3.0, alpha=0.6)
            out[name] = (f"{name} (= {same[0]})", {"linestyle": _DASHES[(len(same) - 1) % len(_DASHES)],
                                                  "linewidth": 1.4, "marker": None})
        same.append(name)
    return out


def _log_scale_if_spread(ax: Any, values: list[float]) -> None:
    """Log y axis when the curves are positive and differ by more than 30x (a weighted sum beside its terms)."""
    finite = [v for v in values if math.isfinite(v)]
    if finite and min(finite) > 0 and max(finite) / min(finite) > 30:
        ax.set_yscale("log")


def _finish(ax: Any, title: str, xlabel: str, hidden: int, labels: int) -> None:
    if hidden:
        title += f"\n({hidden} inf/nan value{'s' if hidden > 1 else ''} not drawn)"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    if labels > 1:
        ax.legend(fontsize=8)


def loss_plot(run: RunContents) -> Plot | None:
    """One panel per network group of losses; None when the log has no losses."""
    keys = run.loss_keys()
    if not keys:
        return None
    groups = loss_groups(keys, [k[len("lr_"):] for k in run.lr_keys()])
    fig, axes = _panels(len(groups), 2)
    for ax, (group, members) in zip(axes, groups.items()):
        hidden = sum(_draw(ax, *run.series(k), k) for k in members)
        _log_scale_if_spread(ax, [v for k in members for v in run.series(k)[1]])
        _finish(ax, f"losses: {group}", "step", hidden, len(members))
    return Plot("losses.png", "Losses", f"{len(keys)} losses in {len(groups)} group(s): " + ", ".join(keys),
                _png(fig))


def metric_plot(run: RunContents) -> Plot | None:
    """One panel per evaluation key (``eval/<key>``); None when training evaluated nothing."""
    keys = run.eval_keys()
    if not keys:
        return None
    fig, axes = _panels(len(keys), MAX_COLUMNS)
    for ax, key in zip(axes, keys):
        steps, values = run.series(key)
        hidden = _draw(ax, steps, values, key)
        if hidden == len(values):
            ax.text(0.5, 0.5, "every value is " + ", ".join(sorted({str(v) for v in values})),
                    ha="center", va="center", transform=ax.transAxes)
        _finish(ax, key[len("eval/"):], "step", hidden, 1)
    return Plot("metrics.png", "Evaluation metrics during training", ", ".join(keys), _png(fig))


def lr_figure(run: RunContents) -> Any:
    """The matplotlib figure of :func:`lr_plot` (equal curves drawn apart, :func:`curve_styles`); None without
    learning rates in the log."""
    keys = run.lr_keys()
    if not keys:
        return None
    fig, (ax,) = _panels(1, 1, width=6.0)
    series = {k[len("lr_"):]: run.series(k) for k in keys}
    styles = curve_styles(series)
    hidden = sum(_draw(ax, *series[name], label, **style) for name, (label, style) in styles.items())
    _finish(ax, "learning rates", "step", hidden, len(keys))
    return fig


def lr_plot(run: RunContents) -> Plot | None:
    """The learning rate of every optimizer against the step."""
    fig = lr_figure(run)
    if fig is None:
        return None
    return Plot("learning_rates.png", "Learning rates", ", ".join(run.lr_keys()), _png(fig))


def throughput_plot(run: RunContents) -> Plot | None:
    """Images/s against the time since the first record (seconds, or minutes past two)."""
    records = [r for r in run.records if isinstance(r.get("time"), (int, float))
               and isinstance(r.get("images_per_s"), (int, float))]
    if not records:
        return None
    start = min(r["time"] for r in run.records if isinstance(r.get("time"), (int, float)))
    span = max(r["time"] for r in records) - start
    unit, per = ("minutes", 60.0) if span >= 120 else ("seconds", 1.0)
    fig, (ax,) = _panels(1, 1, width=6.0)
    hidden = _draw(ax, [(r["time"] - start) / per for r in records], [float(r["images_per_s"]) for r in records],
                   "images/s")
    _finish(ax, "images/s", f"{unit} since the first logged step", hidden, 1)
    return Plot("images_per_s.png", "Throughput", "images per second, as logged every log_every steps",
                _png(fig))


def all_plots(run: RunContents) -> list[Plot]:
    """Every plot the run's metrics log allows, in page order."""
    return [p for p in (loss_plot(run), metric_plot(run), lr_plot(run), throughput_plot(run)) if p is not None]


__all__ = ["Plot", "all_plots", "curve_styles", "loss_groups", "loss_plot", "lr_figure", "lr_plot", "metric_plot",
           "throughput_plot"]

"""The model card (``README.md``) of a model folder, generated from the model's metadata.

The YAML front matter (``library_name``, ``pipeline_tag``, ``tags``) is written by
``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData`, so the Hub reads it as it reads
every other library's cards; the Markdown body is ours, with every value taken from the metadata
escaped by :mod:`translate.utils.markdown`. The limits section lists a generic line, a warning for very
short runs, and what the method and the data set said about themselves (``ModelMeta.limitations``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..utils.markdown import md_cell, md_table, md_text
from . import ModelMeta
from .schema import EvaluationMeta

SHORT_RUN_STEPS = 1000
"""Runs shorter than this many steps get a "trained for only N steps" line."""

_PLAIN_DISTRIBUTIONS = ("translate-i2i", "(in-process)")  # nothing more to pip install
PLACEHOLDER = "MODEL_DIR"
"""What the usage example calls a model folder whose own name says nothing (``RUN/export``)."""
_GENERIC_NAMES = frozenset({"", ".", "..", "export", "exports", "model", "models", "out", "output", "outputs"})


def card_source(folder: "str | os.PathLike[str]") -> str:
    """How the card's usage example names the model folder ``folder``: its name, or :data:`PLACEHOLDER` for
    a name that says nothing (``runs/quickstart/export`` -> ``MODEL_DIR``, ``facades-pix2pix`` -> itself)."""
    name = Path(folder).name
    return PLACEHOLDER if name.lower() in _GENERIC_NAMES or name.startswith("-") else name


def model_card(meta: ModelMeta, *, source: str = "MODEL_DIR") -> str:
    """A Markdown model card for ``meta``; ``source`` is what users pass to load it (folder or ``hf://`` id)."""
    from huggingface_hub import ModelCard, ModelCardData

    data = ModelCardData(library_name="translate", pipeline_tag="image-to-image",
                         tags=sorted({"translate", "image-to-image", meta.method}))
    body = _description(meta) + _training(meta) + _evaluation(meta) + _usage(meta, source) + _limits(meta)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body) + "\n"))


def _data_label(meta: ModelMeta) -> tuple[str, str]:
    """The data set's name (``unknown`` when not recorded) and how the card names it."""
    r = meta.recipe
    name = r.data if r and r.data else "unknown"
    label = f"`{md_cell(name)}`"
    if r and r.data_folder and r.data_folder != name:
        label += f" (folder `{md_cell(r.data_folder)}`)"
    return name, label


def _description(meta: ModelMeta) -> list[str]:
    default = meta.generators[meta.default]
    pre = meta.preprocessing
    data, label = _data_label(meta)
    method, source, target = md_cell(meta.method), md_cell(default.input_domain), md_cell(default.output_domain)
    rows = [
        [f"{name} (default)" if name == meta.default else name, g.direction, f"{g.input_domain} -> {g.output_domain}",
         f"{g.in_channels} -> {g.out_channels}", f"`{g.component}`", f"{g.plugin.distribution} {g.plugin.version}",
         g.test_mode, g.size_multiple]
        for name, g in meta.generators.items()
    ]
    header = ["name", "direction", "input -> output", "channels", "network", "plugin", "test-time mode",
              "size multiple"]
    scales = [g.scale_factor for g in meta.generators.values()]
    if any(s != 1 for s in scales):  # generators that change resolution (super-resolution)
        header.append("scale")
        for row, s in zip(rows, scales):
            row.append(f"{s}x")
    norm = default.normalization
    made = (f"converted by [translate](https://pypi.org/project/translate-i2i/) {md_cell(meta.translate_version)} "
            f"from {_plain(meta.provenance.converted_from)} (see Provenance; translate did not train it)"
            if meta.provenance is not None else
            f"trained with [translate](https://pypi.org/project/translate-i2i/) {md_cell(meta.translate_version)} "
            f"on the {label} data set")
    lines = [
        f"# {method}: {source} -> {target} ({md_cell(data)})",
        "",
        f"A {method} model {made}. By default it translates {source} images into {target} images.",
        "",
        "## Generators",
        "",
        *_table(header, rows),
        "",
        f"Inputs: pixels in [0, 1] are normalised as (x - {norm.mean}) / {norm.std}; outputs lie in "
        f"[{default.value_range[0]}, {default.value_range[1]}]. Any size works: images are padded to a multiple "
        f"of {pre.size_multiple if pre else default.size_multiple} and cropped back.",
    ]
    scale = default.scale_factor
    if scale != 1:
        lines[-1] += (f" Outputs are {scale} times the input's height and width (a {scale}x upscaling: "
                      f"a 64x64 input gives a {64 * scale}x{64 * scale} output).")
    if pre and pre.recommended_size:
        size = pre.recommended_size
        what = f" input crops ({size * scale}x{size * scale} targets)" if scale != 1 else " crops"
        lines.append(f"It was trained on {size}x{size}{what}; inputs of about that scale work best.")
    return lines


def _provenance(meta: ModelMeta) -> list[str]:
    """Where converted weights came from: the files with their sha256, the source and the licence."""
    p = meta.provenance
    if p is None:
        return []
    rows = [[f.generator, f"`{md_cell(f.name)}`", f"`{f.sha256}`", f.recognised_by()] for f in p.files]
    return ["", "## Provenance", "", f"Converted with `translate convert` from {_plain(p.converted_from)}.", "",
            *(_table(["generator", "file", "sha256", "recognised by"], rows) + [""] if rows else []),
            f"- source (as given with `--source`): {_code(p.source) if p.source else 'not given'}",
            f"- licence of the weights: {_code(p.license) if p.license else 'not given; ask their source'}"]


def _training(meta: ModelMeta) -> list[str]:
    if meta.provenance is not None:
        return _provenance(meta)
    r, t = meta.recipe, meta.training
    facts: list[tuple[str, object]] = [("method", f"`{md_cell(meta.method)}`"), ("data set", _data_label(meta)[1])]
    if r:
        length = f"{r.epochs} epochs" if r.epochs else (f"{r.steps} steps" if r.steps else None)
        facts += [("seed", r.seed), ("planned length", length), ("batch size", r.batch_size)]
    if t:
        facts += [("steps trained", t.steps), ("last epoch", t.epoch)]
    lines = ["", "## Training", "", *[f"- {k}: {v}" for k, v in facts if v is not None]]
    if t and t.losses:
        lines += ["", "Last logged losses:", "", *_numbers("loss", t.losses)]
    return lines


def _evaluation(meta: ModelMeta) -> list[str]:
    e, t = meta.evaluation, meta.training
    if e is not None:
        return ["", "## Evaluation", "", *_evaluated(e)]
    if t and t.evaluation:  # files written before evaluations carried their protocol
        return ["", "## Evaluation", "", *_numbers("metric", t.evaluation)]
    return ["", "## Evaluation", "", "Not evaluated: no held-out metrics were computed for this model. Look at its "
            "outputs on your own images before relying on it."]


def _evaluated(e: EvaluationMeta) -> list[str]:
    """The values table, then the protocol: split, images, and what each part of it recorded."""
    where = [f"the {_code(e.split)} split" if e.split else "a held-out split",
             f"of {_code(e.data)}" if e.data else None,
             f"({e.num_images} images)" if e.num_images is not None else None,
             f"at step {e.step}" if e.step is not None else None]  # the weights' optimizer step
    def better(key: str) -> str:
        hib = e.higher_is_better.get(key)
        return "" if hib is None else ("higher" if hib else "lower")

    rows = [[k, v if isinstance(v, str) else f"{v:.4g}", better(k)] for k, v in e.values.items()]
    lines = [f"Measured on {' '.join(w for w in where if w)}:", "", *_table(["metric", "value", "better"], rows),
             "", "Protocol:", ""]
    facts: list[tuple[str, object]] = [("split", e.split), ("number of images", e.num_images),
                                       ("data fingerprint", e.data_fingerprint), ("model sha256", e.model_sha256)]
    lines += [f"- {k}: {_code(v)}" for k, v in facts if v is not None]
    shown = {"split": e.split, "inputs_sha256": e.data_fingerprint}  # listed above already
    for key, value in e.protocol.items():
        if key not in shown or value != shown[key]:
            lines += _protocol_lines(key, value, indent="")
    return lines + _final_and_best(e) + _published(e)


def _final_and_best(e: EvaluationMeta) -> list[str]:
    """This model's values beside the run's other candidate (best for a final model, final for a best one)."""
    o = e.other_checkpoint
    if o is None:
        return []
    this = "best" if o.label == "final" else "final"
    def step(s: int | None) -> str:
        return f" (step {s})" if s is not None else ""

    def shown(v: object) -> str:
        return "" if v is None else v if isinstance(v, str) else f"{v:.4g}"

    keys = list(dict.fromkeys([*e.values, *o.values]))
    rows = [[k, shown(e.values.get(k)), shown(o.values.get(k))] for k in keys]
    chosen = (f"The best checkpoint was chosen by {_code(o.chosen_by)}" if o.chosen_by else
              "The best checkpoint was chosen") + (f" on the {_code(o.split)} split." if o.split else ".")
    lines = ["", "### Final and best", "", chosen + f" This model is the {this} one; the table gives both.", "",
             *_table(["metric", f"this model, {this}{step(e.step)}", f"{o.label}{step(o.step)}"], rows)]
    if o.split == "test":
        lines += ["", "Choosing the best checkpoint on the test split is selection on the test set: the best "
                  "value is optimistic. The final model's value is the one to compare with papers that report "
                  "their final model."]
    return lines


def _published(e: EvaluationMeta) -> list[str]:
    """Published numbers beside this model's, with the difference and whether the protocols match."""
    if not e.published:
        return []
    rows = []
    for p in e.published:
        ours = "not evaluated" if p.value is None else p.value if isinstance(p.value, str) else f"{p.value:.4g}"
        diff = "" if p.difference is None else f"{p.difference:+.4g}"
        verdict = {True: "yes", None: "protocol not stated"}.get(p.comparable, "no: " + "; ".join(p.differs))
        rows.append([p.metric, p.source, f"{p.published:.4g}", ours, diff, verdict])
    return ["", "### Published results", "", *_table(["metric", "source", "published", "this model", "difference",
                                                      "comparable"], rows)]


def _protocol_lines(key: str, value: object, indent: str) -> list[str]:
    """One protocol entry as a bullet; objects become nested bullets, lists of scalars one line."""
    if isinstance(value, dict):
        if not value:
            return []
        out = [f"{indent}- {_plain(key)}:"]
        for inner_key, inner in value.items():
            out += _protocol_lines(inner_key, inner, indent + "  ")
        return out
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        out = [f"{indent}- {_plain(key)}:"]
        for i, inner in enumerate(value):
            out += _protocol_lines(str(i), inner, indent + "  ")
        return out
    text = ", ".join(_scalar(v) for v in value) if isinstance(value, list) else _scalar(value)
    return [f"{indent}- {_plain(key)}: {_code(text)}"]


def _scalar(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "none"}[value]
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _code(value: object) -> str:
    """``value`` as an inline code span (one line, no backticks, ``|`` escaped)."""
    return f"`{md_cell(str(value).replace('`', chr(39)))}`"


def _plain(text: object) -> str:
    """``text`` as plain Markdown on one line (``*``, ``<``, ``|`` escaped, no code spans)."""
    return md_text(md_cell(str(text).replace("`", "'")))


def _usage(meta: ModelMeta, source: str) -> list[str]:
    plugins = sorted({g.plugin.distribution for g in meta.generators.values()
                      if g.plugin.distribution not in _PLAIN_DISTRIBUTIONS})
    other = next((n for n in meta.generators if n != meta.default), None)
    lines = [
        "",
        "## How to use",
        "",
        "```bash",
        "pip install translate-i2i" + "".join(f" {p}" for p in plugins),
        f"translate infer {source} INPUT --out OUT",
    ]
    if other:
        lines.append(f"translate infer {source} INPUT --out OUT --direction {meta.generators[other].direction}")
    scale = meta.generators[meta.default].scale_factor
    sizes = "the inputs' sizes" if scale == 1 else f"{scale} times the inputs' height and width"
    lines += [
        "```",
        "",
        f"INPUT is an image file or a folder of images; outputs are written as PNG files to OUT with {sizes}."
        + (f" {PLACEHOLDER} is this model's folder (or its Hub id, `hf://OWNER/NAME`, once pushed)."
           if source == PLACEHOLDER else ""),
        "",
        "```python",
        "import translate",
        f'pipe = translate.load("{source}")',
        'pipe("input.png").save("output.png")  # also PIL images, NumPy arrays and tensors',
        "```",
    ]
    return lines


def _limits(meta: ModelMeta) -> list[str]:
    t = meta.training
    items = ["It works on images like its training data; other content, styles, sizes or capture "
             "conditions give unreliable results."]
    if t and t.steps is not None and t.steps < SHORT_RUN_STEPS:
        items.append(f"It was trained for only {t.steps} steps: outputs show what the pipeline does, not what "
                     "the method can do.")
    items += [md_text(" ".join(item.split())) for item in meta.limitations]  # the method's and the data set's
    items.append("Outputs are synthetic images; do not present them as real photographs, and check the "
                 "training data's licence before commercial use.")
    return ["", "## Intended use and limits", "", *[f"- {item}" for item in items]]


def _numbers(kind: str, values: dict[str, float]) -> list[str]:
    """A two-column table: ``kind`` names and their values (4 significant digits)."""
    return _table([kind, "value"], [[k, f"{v:.4g}"] for k, v in values.items()])


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table of metadata values (``<`` and ``*`` escaped outside code spans, ``|`` everywhere)."""
    return md_table(header, [[md_text(cell) for cell in row] for row in rows])


__all__ = ["PLACEHOLDER", "card_source", "model_card"]

"""Generated documentation: ``translate docs recipes`` prints ``docs/recipes.md``.

Everything that describes the schema is read from the code itself: the recipe
skeleton from the pydantic models in :mod:`translate.recipe`, the components and
their options from the registry of the *built-in* plugins (third-party plugins
installed in the environment are left out, so the page is the same on every
machine), the ``--set`` examples from :func:`translate.recipe.parse_override`, and the
error examples from running ``translate check`` on bad recipes. ``tests/test_docs.py``
checks that ``docs/recipes.md`` equals :func:`recipes_markdown`.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import types
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .errors import RecipeError
from .hookspecs import KINDS
from .registry import Component, Registry
from .recipe import toml_value

REGENERATE = "translate docs recipes > docs/recipes.md"

# ----------------------------------------------------------------------------- examples
# The recipes below are shown on the page; tests/test_docs.py checks that the good ones
# validate and the bad ones fail as the page says.

EXAMPLE_RECIPE = """\
# pix2pix on CMP Facades (labels -> photos), the paper's settings.
seed = 0

[method]
name = "pix2pix"

[method.options]
lambda_l1 = 100.0

[generator]
name = "unet_256"

[discriminator]
name = "patchgan"

[discriminator.options]
n_layers = 3

[losses.adversarial]
name = "vanilla"

[data]
name = "paired_ab"
batch_size = 1

[data.options]
root = "data/facades"
direction = "BtoA"

[train]
epochs = 200
decay = 100

[output]
dir = "runs/{recipe}"
"""

EXTENDS_EXAMPLE = """\
# recipes/ablations/facades_pixelgan.toml
extends = "../pix2pix_facades.toml"

[discriminator]
name = "pixelgan"   # a different component: the base's [discriminator.options] are dropped

[output]
dir = "runs/ablations/facades_pixelgan"
"""

BAD_SKELETON = """\
[method]
name = "pix2pix"

[data]
name = "synthetic_shapes"
batch_size = "4"

[train]
epoch = 10
"""

BAD_COMPONENTS = """\
[method]
name = "pix2pix"

[generator]
name = "unet256"

[discriminator]
name = "patchgan"

[discriminator.options]
norm = "group"
nfd = 32

[data]
name = "synthetic_shapes"
batch_size = 4

[train]
epochs = 10
"""

SET_EXAMPLES: list[tuple[str, str]] = [
    ("train.epochs=5", ""),
    ("method.options.lr=1e-4", ""),
    ("data.shuffle=false", ""),
    ("data.options.root=data/facades", "not a TOML value, so the text itself"),
    ("data.options.direction=BtoA", "not a TOML value, so the text itself"),
    ('output.dir="runs/2024"', "quoted: always a string"),
    ("generator.options.widths=[64, 128]", "for an option that takes a list"),
    ('losses.reconstruction={name = "l2"}', "replaces the whole table"),
    ("losses.reconstruction.name=smooth_l1", "creates `[losses.reconstruction]` if needed"),
]

# Rules that validators enforce (not expressible as per-field constraints).
SECTION_RULES: dict[str, list[str]] = {
    "TrainSpec": [
        "Give exactly one of `epochs` and `steps`.",
        "`decay` must not be longer than the run (`epochs` or `steps`).",
    ],
}
OPTION_RULES: dict[str, list[str]] = {
    "translate_pix2pix.method_options.Pix2PixOptions": [
        "`lambda_l1` and `lambda_gan` must not both be 0.",
        "With `lambda_gan = 0` no discriminator is built (a `[discriminator]` table is still validated, but unused).",
    ],
    "translate_datasets.options.PairedOptions": [
        "`crop_size` must not exceed `load_size` (`resize_and_crop`, `scale_width_and_crop`).",
        "`crop_size` must be a multiple of `size_multiple` (unless `preprocess = \"none\"`).",
    ],
    "translate_datasets.options.ShapesOptions": [
        "The same size rules as `paired_ab`, applied after the defaults of `load_size` and `crop_size`.",
    ],
}

KIND_TITLES: dict[str, tuple[str, str]] = {
    "generator": ("Generators", "`[generator]`"),
    "discriminator": ("Discriminators", "`[discriminator]`"),
    "loss": ("Losses", "`[losses.<role>]`"),
    "dataset": ("Data sets", "`[data]`"),
    "method": ("Methods", "`[method]`"),
    "data_source": ("Downloadable data sets", "`translate data download NAME`"),
}

# (file under recipes/ablations, the paper's variant, what the file sets over pix2pix_facades.toml)
ABLATIONS: list[tuple[str, str, str, str]] = [
    ("objective", "facades_l1_only.toml", "L1 only",
     "`method.options.lambda_gan = 0.0`: no discriminator is built; G learns from L1 alone"),
    ("objective", "facades_cgan_only.toml", "cGAN only",
     "`method.options.lambda_l1 = 0.0`: the conditional GAN loss alone"),
    ("objective", "facades_l1_gan.toml", "L1 + GAN",
     "`method.options.conditional = false`: D sees only the (real or generated) photo, not the input"),
    ("generator", "facades_encoder_decoder.toml", "Encoder-decoder",
     "`generator.name = \"encoder_decoder_256\"`: the U-Net without its skip connections (L1 + cGAN)"),
    ("discriminator", "facades_pixelgan.toml", "1x1 PixelGAN",
     "`discriminator.name = \"pixelgan\"`: one logit per pixel (the base's PatchGAN options are dropped)"),
    ("discriminator", "facades_patchgan_16.toml", "16x16 PatchGAN",
     "`discriminator.options.n_layers = 1`"),
    ("discriminator", "facades_imagegan_286.toml", "286x286 ImageGAN",
     "`discriminator.options.n_layers = 5`: the receptive field covers the whole 256x256 image"),
]


# ----------------------------------------------------------------------------- registry


def builtin_plugins() -> Any:
    """The built-in plugins alone (translate's own distribution), loaded strictly."""
    from .plugins import DISTRIBUTION, ENTRY_POINT_GROUP, load_plugins

    def builtin(ep: metadata.EntryPoint) -> bool:
        return ep.dist is not None and ep.dist.name.lower().replace("_", "-") == DISTRIBUTION

    eps = sorted((ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if builtin(ep)), key=lambda e: e.name)
    return load_plugins(strict=True, entry_points=eps)


def builtin_registry() -> Registry:
    """A registry holding only the built-in components."""
    return builtin_plugins().registry


def builtin_components(registry: Registry | None = None) -> list[Component]:
    """Every built-in component, by kind (in hook order) then name."""
    registry = registry if registry is not None else builtin_registry()
    out = []
    for kind in KINDS:
        for name in registry.names(kind):
            comp = registry.get(kind, name)
            if comp.plugin.builtin:
                out.append(comp)
    return out


# ----------------------------------------------------------------------------- running the CLI


def run_check(recipe_text: str, overrides: list[str] | None = None, name: str = "bad.toml") -> tuple[int, str]:
    """Run ``translate check NAME`` on ``recipe_text`` with only the built-in plugins loaded.

    Returns the exit status and what the command printed (stdout then stderr), with the
    temporary folder removed from paths so that the text is the same on every machine.
    """
    from . import plugins as plugins_mod
    from .cli import main

    builtin = builtin_plugins()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(recipe_text)
        argv = ["check", str(path)]
        for o in overrides or []:
            argv += ["--set", o]
        out, err = io.StringIO(), io.StringIO()
        saved = plugins_mod._CACHE
        plugins_mod._CACHE = builtin
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main(argv)
        finally:
            plugins_mod._CACHE = saved
        text = (out.getvalue() + err.getvalue()).replace(str(path), name)
    return rc, text


# ----------------------------------------------------------------------------- formatting


def md_text(text: str) -> str:
    """Escape plain text (a description) for Markdown: ``<`` and ``*`` outside code spans."""
    parts = str(text).split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("*", "\\*").replace("<", "&lt;")
    return "`".join(parts)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _toml_value(value: Any) -> str:
    if value is None:
        return "not set"
    try:
        return toml_value(value)
    except TypeError:
        return repr(value)


_TYPE_NAMES = {int: "integer", float: "float", bool: "boolean", str: "string", Any: "any"}


def type_info(annotation: Any) -> tuple[str, list[Any] | None]:
    """(TOML type name, Literal choices or None) of a field annotation; ``X | None`` is ``X``."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        infos = [type_info(a) for a in args]
        if len(infos) == 1:
            return infos[0]
        return " or ".join(t for t, _ in infos), None
    if origin is Literal:
        choices = list(get_args(annotation))
        kinds = sorted({_TYPE_NAMES.get(type(c), type(c).__name__) for c in choices})
        return " or ".join(kinds), choices
    if origin is dict:
        _, value = get_args(annotation) or (str, Any)
        if isinstance(value, type) and issubclass(value, BaseModel):
            return "table of tables", None
        return "table", None
    if origin in (list, tuple):
        return "array", None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table", None
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", str(annotation))), None


def _constraints(field: FieldInfo, choices: list[Any] | None) -> str:
    parts = []
    if choices is not None:
        parts.append("one of " + ", ".join(f"`{_toml_value(c)}`" for c in choices))
    for meta in field.metadata:
        for attr, symbol in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"), ("multiple_of", "multiple of")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{symbol} {_toml_value(value)}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(all defaults)"
    if value is None:
        return "not set"
    return f"`{_toml_value(value)}`"


def field_rows(model: type[BaseModel], sort: bool = False) -> list[list[str]]:
    """(key, type, default, constraints, description) for each field of ``model``."""
    names = sorted(model.model_fields) if sort else list(model.model_fields)
    rows = []
    for name in names:
        field = model.model_fields[name]
        type_name, choices = type_info(field.annotation)
        rows.append([f"`{name}`", type_name, _default(field), _constraints(field, choices), md_text(field.description or "")])
    return rows


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n\n")[0].replace("\n", " ").strip()


def _qualname(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def _anchor(text: str) -> str:
    keep = "".join(c for c in text.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


# ----------------------------------------------------------------------------- the page


def recipes_markdown() -> str:
    """The recipe reference (``docs/recipes.md``), generated from the schema and the built-in plugins."""
    from . import recipe as R

    registry = builtin_registry()
    out: list[str] = []
    add = out.append

    add("# Recipes")
    add("")
    add(f"<!-- Generated by `{REGENERATE}` from translate/recipe.py and the built-in plugins; do not edit. -->")
    add("")
    add("A recipe is a TOML file that describes one training run: the method, the networks,")
    add("the losses, the data, how long to train and what to write. `translate check RECIPE`")
    add("validates it without building anything, `translate run RECIPE` trains. This page is")
    add(f"generated from the schema (`{REGENERATE}`), so every key and default below is")
    add("exactly what translate accepts. It lists the built-in components only; run")
    add("`translate plugins` to see everything installed, and [plugins.md](plugins.md) to add your own.")
    add("")
    add("Contents:")
    add("")
    sections = [
        "1. The structure of a recipe",
        "2. extends: building on another recipe",
        "3. --set: overriding keys from the command line",
        "4. Validation and error messages",
        "5. Reference: sections and keys",
        "6. Reference: built-in components",
        "7. The paper's ablations as recipes",
    ]
    for s in sections:
        add(f"{s.split('. ', 1)[0]}. [{s.split('. ', 1)[1]}](#{_anchor(s)})")
    add("")

    # --- 1
    add("## 1. The structure of a recipe")
    add("")
    add("```toml")
    out.extend(EXAMPLE_RECIPE.rstrip("\n").split("\n"))
    add("```")
    add("")
    add("- Plain keys (`seed`) come first, then tables. Unknown keys are errors at every level,")
    add("  so a misspelt key is reported, never silently ignored.")
    add("- A **component table** (`[method]`, `[generator]`, `[discriminator]`, `[losses.<role>]`,")
    add("  `[data]`) chooses a registered component by `name` and configures it with its")
    add("  `options` table. Each component declares its own options (section 6); anything left")
    add("  out takes the component's default.")
    add("- `[losses.<role>]` tables are keyed by the role the method asks for. pix2pix uses")
    add("  `adversarial` (default `vanilla`) and `reconstruction` (default `l1`); a role without")
    add("  a table gets the method's default. Likewise pix2pix defaults to `unet_256` and")
    add("  `patchgan` when `[generator]` or `[discriminator]` is left out.")
    add("- Types are strict: `\"4\"` is not an integer and `1` is not a boolean. An integer is")
    add("  accepted where a float is expected.")
    add("- `translate run` writes the *resolved* recipe, every default filled in, to the run")
    add("  folder as `recipe.toml` and `recipe.json`; `translate run runs/NAME/recipe.toml`")
    add("  repeats the run exactly.")
    add("")

    # --- 2
    add("## 2. extends: building on another recipe")
    add("")
    add("`extends = \"PATH\"` (a path relative to the recipe file) starts from another recipe and")
    add("changes only what the file lists. Bases can extend further bases; a cycle is an error.")
    add("")
    add("```toml")
    out.extend(EXTENDS_EXAMPLE.rstrip("\n").split("\n"))
    add("```")
    add("")
    add("The merge rule:")
    add("")
    add("- Tables are merged key by key, recursively: `[method.options]` with one key changes that")
    add("  key and keeps the base's other options.")
    add("- Any other value (a number, string, array) replaces the base's value.")
    add("- A component table whose `name` differs from the base's starts its `options` afresh:")
    add("  options meant for one component rarely fit another. In the example, the base's")
    add("  PatchGAN options (`n_layers`, ...) are dropped and `pixelgan` gets its defaults plus")
    add("  whatever `[discriminator.options]` the file itself gives.")
    add("- `extends` is resolved before `--set` overrides and before validation.")
    add("")

    # --- 3
    add("## 3. --set: overriding keys from the command line")
    add("")
    add("`translate run` and `translate check` accept `--set dotted.key=value`, any number of")
    add("times, applied in order after `extends`. The value is read as a TOML value; text that")
    add("is not a valid TOML value is taken as a plain string, so paths and names need no quotes.")
    add("Tables that do not exist yet are created.")
    add("")
    rows = []
    for text, note in SET_EXAMPLES:
        parts, value = R.parse_override(text)
        rows.append([f"`--set '{text}'`", f"`{'.'.join(parts)}`", f"`{_toml_value(value)}`", _kind_of(value), note])
    out.extend(_table(["argument", "key", "value", "TOML type", "note"], rows))
    add("")
    try:
        R.apply_overrides({"seed": 0}, ["seed.value=1"])
        raise AssertionError("setting a key below a value must fail")
    except RecipeError as err:
        below = str(err)
    add("Quote a string that would otherwise read as a number, boolean or date")
    add("(`--set 'output.dir=\"2024\"'`). Setting a key *below* a plain value is an error:")
    add("")
    add("```console")
    add("$ translate check recipes/quickstart.toml --set seed.value=1")
    out.extend(f"error: {below}".split("\n"))
    add("```")
    add("")

    # --- 4
    add("## 4. Validation and error messages")
    add("")
    add("A recipe is validated completely before anything is built or downloaded, in two stages:")
    add("")
    add("1. **The skeleton**: the sections and keys of section 5, with their types and limits.")
    add("2. **The components**: each `name` is looked up among the installed plugins (an unknown")
    add("   name gets close matches and the installed choices), and each `options` table is")
    add("   validated with that component's own options model.")
    add("")
    add("All problems of a stage are reported together, one `dotted.key: message` line each,")
    add("under the name of the recipe file. The command exits with status 2 and prints no")
    add("traceback. A recipe with skeleton errors (stage 1):")
    add("")
    for title, text in (("bad.toml", BAD_SKELETON), ("bad.toml", BAD_COMPONENTS)):
        rc, printed = run_check(text, name=title)
        add("```toml")
        out.extend(text.rstrip("\n").split("\n"))
        add("```")
        add("")
        add("```console")
        add(f"$ translate check {title}")
        out.extend(printed.rstrip("\n").split("\n"))
        add("$ echo $?")
        add(str(rc))
        add("```")
        add("")
        if text is BAD_SKELETON:
            add("Once the skeleton is right, the components are checked (stage 2):")
            add("")
    rc, printed = run_check("[method\nname = \"pix2pix\"\n", name="broken.toml")
    add("TOML syntax errors name the file, line and column:")
    add("")
    add("```console")
    add("$ translate check broken.toml")
    out.extend(printed.rstrip("\n").split("\n"))
    add("```")
    add("")

    # --- 5
    add("## 5. Reference: sections and keys")
    add("")
    add("Types are TOML types. *not set* means the key may be left out and has no value.")
    add("")
    skeleton: list[tuple[str, type[BaseModel], str]] = [
        ("Top level", R.Recipe, ""),
        ("`[method]`, `[generator]`, `[discriminator]`, `[losses.<role>]`", R.ComponentSpec,
         "Every component table has these keys; `[data]` adds its own below."),
        ("`[data]`", R.DataSpec, ""),
        ("`[train]`", R.TrainSpec, ""),
        ("`[output]`", R.OutputSpec, ""),
    ]
    for heading, model, note in skeleton:
        add(f"### {heading}")
        add("")
        add(md_text(_first_line(model.__doc__)) + (" " + note if note else ""))
        add("")
        out.extend(_table(["key", "type", "default", "constraints", "description"], field_rows(model)))
        rules = SECTION_RULES.get(model.__name__, [])
        if rules:
            add("")
            add("Rules: " + " ".join(rules))
        add("")

    # --- 6
    add("## 6. Reference: built-in components")
    add("")
    add("Choose a component with `name = \"...\"` in the table shown for its kind, and set its")
    add("options in that table's `options` sub-table. Options are listed alphabetically.")
    add("")
    comps = builtin_components(registry)
    for kind in KINDS:
        title, where = KIND_TITLES.get(kind, (kind, f"`{kind}`"))
        of_kind = [c for c in comps if c.kind == kind]
        add(f"### {title} ({where})")
        add("")
        if not of_kind:
            add("None built in.")
            add("")
            continue
        if kind == "data_source":
            add("Not used in recipes: `translate data download NAME` downloads one of these into")
            add("`data/NAME`, ready for the data set its recipes name (`paired_ab` for the pix2pix")
            add("sets, `unpaired` for the CycleGAN sets).")
            add("")
            out.extend(_table(["name", "description"], [[f"`{c.name}`", md_text(c.description)] for c in of_kind]))
            add("")
            continue
        for comp in of_kind:
            add(f"#### `{comp.name}`")
            add("")
            add(md_text(comp.description or "(no description)"))
            add("")
            model = comp.options
            add(f"Plugin `{comp.plugin.name}`; options model `{_qualname(model)}`.")
            add("")
            rows = field_rows(model, sort=True)
            if rows:
                out.extend(_table(["option", "type", "default", "constraints", "description"], rows))
            else:
                add("No options.")
            rules = [r for cls in model.__mro__ for r in OPTION_RULES.get(_qualname(cls), [])]
            if rules:
                add("")
                add("Rules: " + " ".join(rules))
            add("")

    # --- 7
    add("## 7. The paper's ablations as recipes")
    add("")
    add("Isola et al. (pix2pix, CVPR 2017) analyse the objective (L1, GAN, cGAN and their")
    add("combinations), the generator (encoder-decoder vs U-Net) and the discriminator's patch")
    add("size (PixelGAN, PatchGAN, ImageGAN). Each variant is a small recipe in `recipes/ablations/`")
    add("that `extends` the full-scale `recipes/pix2pix_facades.toml` (L1 + cGAN, U-Net 256,")
    add("70x70 PatchGAN, 200 epochs, batch 1) and changes only what the ablation changes, plus")
    add("its own run folder `runs/ablations/<name>`.")
    add("")
    rows = [["`recipes/pix2pix_facades.toml`", "all", "L1 + cGAN, U-Net, 70x70 PatchGAN", "the baseline"]]
    rows += [[f"`recipes/ablations/{f}`", part, variant, sets] for part, f, variant, sets in ABLATIONS]
    out.extend(_table(["recipe", "ablates", "the paper's variant", "what it sets"], rows))
    add("")
    add("```bash")
    add("translate data download facades")
    add("translate run recipes/ablations/facades_l1_only.toml")
    add("```")
    add("")
    add("The paper's *GAN* variant (unconditional, no L1) combines two of them:")
    add("")
    add("```bash")
    add("translate run recipes/ablations/facades_l1_gan.toml --set method.options.lambda_l1=0 \\")
    add("    --set output.dir=runs/ablations/facades_gan_only")
    add("```")
    add("")
    add("The paper reports its numbers on Cityscapes labels -> photos. To run the ablations")
    add("there, point the data at it with `--set data.options.root=data/cityscapes` and set")
    add("`data.options.direction` so that the label map is the input.")
    add("")
    return "\n".join(out).rstrip("\n") + "\n"


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


__all__ = ["md_text", "recipes_markdown", "builtin_plugins", "builtin_registry", "builtin_components", "run_check", "REGENERATE"]

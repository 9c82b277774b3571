"""What the demo page shows, worked out without Gradio: title, summary, limitations, the model
card, example inputs, the canvas size and the brush colours of each direction.

The summary is the first paragraph of the model card (the model folder's ``README.md`` when it
has one, else the card :func:`translate.models.card.model_card` writes from the metadata); the
limitations are the model's own (``ModelMeta.limitations``). Example inputs are the images of the
model folder's ``examples/`` folder, when present, and of ``--share-examples DIR``; for a run folder, each
direction's tab also offers the first test inputs of the run's data set (:func:`data_examples`), so a
visitor sees a translation with one click before drawing.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...data.imageio import list_images
from ...errors import TranslateError
from ..serve.service import ModelService

if TYPE_CHECKING:  # pragma: no cover
    from ...plugin.registry import Registry

EXAMPLES_FOLDER = "examples"
"""A model folder's sub-folder of example inputs, shown by the demo when present."""
MAX_EXAMPLES = 24
"""Example images shown at most (the first, by name)."""
DATA_EXAMPLES = 8
"""Test inputs of the run's data set offered in each direction's tab (the split's first items)."""
INK = "#000000"
"""The default brush: black strokes on a white canvas, like edge maps."""
PALETTE = ("#000000", "#0000aa", "#0055ff", "#00aaff", "#00ffff", "#55ff55", "#aaff00", "#ffff00", "#ffaa00",
           "#ff5500", "#ff0000", "#aa0000", "#ffffff")
"""Brush colours offered when the model's input has colour channels (label maps such as facades')."""


@dataclass(frozen=True)
class Direction:
    """One generator as the demo shows it: a tab with a canvas and an output."""

    generator: str
    direction: str
    input_domain: str
    output_domain: str
    in_channels: int
    colours: tuple[str, ...]
    examples: tuple[Path, ...] = ()
    """Inputs of this direction from the run's data set (:func:`data_examples`), before the shared ones."""

    @property
    def label(self) -> str:
        """``"AtoB: edges -> shoes"``."""
        return f"{self.direction}: {self.input_domain} -> {self.output_domain}"


@dataclass(frozen=True)
class DemoContent:
    """Everything the page shows besides the widgets' state."""

    title: str
    summary: str
    limitations: tuple[str, ...]
    card: str
    directions: tuple[Direction, ...]
    examples: tuple[Path, ...]
    canvas: int


def _card_text(service: ModelService) -> str:
    from ...models.card import model_card

    readme = service.pipeline.loaded.path.parent / "README.md"
    if readme.is_file() and readme.stat().st_size < 1_000_000:
        return readme.read_text(encoding="utf-8", errors="replace")
    return model_card(service.pipeline.meta, source=service.name)


def card_body(card: str) -> str:
    """A model card without its YAML front matter."""
    if card.startswith("---"):
        end = card.find("\n---", 3)
        if end != -1:
            return card[end + 4:].lstrip("\n")
    return card


def summary_of(card: str) -> str:
    """The card's first paragraph that is not a heading, a table or a list (empty when it has none)."""
    for block in re.split(r"\n\s*\n", card_body(card)):
        text = block.strip()
        if text and not text.startswith(("#", "|", "-", "*", "```", "<")):
            return " ".join(text.split())
    return ""


def find_examples(model_dir: Path, extra: str | os.PathLike[str] | None) -> tuple[Path, ...]:
    """Example inputs: ``MODEL_DIR/examples/`` (when present) and ``extra`` (which must be a folder of images).

    Raises:
        TranslateError: ``extra`` is not a folder, or holds no image.
    """
    found: list[Path] = []
    own = model_dir / EXAMPLES_FOLDER
    if own.is_dir():
        found += list_images(own)
    if extra is not None:
        folder = Path(extra)
        if not folder.is_dir():
            raise TranslateError(f"--share-examples {folder}: not a folder (give a folder of example input images)")
        images = list_images(folder)
        if not images:
            raise TranslateError(f"--share-examples {folder}: no images in it (.png, .jpg, ...)")
        found += images
    return tuple(p.resolve() for p in found[:MAX_EXAMPLES])


def data_examples(run_dir: Path, directions: dict[str, str], registry: "Registry | None" = None,
                  count: int = DATA_EXAMPLES) -> dict[str, tuple[Path, ...]]:
    """The first ``count`` inputs of each generator (``{generator: direction}``) from the test split (else val) of
    the data set in ``run_dir``'s recipe, written as PNG files into a temporary folder removed at exit.

    The data set's folder (its ``folder_option``) must exist: nothing is generated or downloaded for a demo.
    A model folder without a recipe, a data set without a folder option, translations or those splits, or one
    that cannot be read gives no examples (``{}``), never an error.
    """
    from ...data.contract import data_info
    from ...plugin.loading import get_registry
    from ...recipe import load_recipe
    from ...run.layout import RunFolder

    recipe_file = RunFolder(run_dir).recipe
    if not recipe_file.is_file():
        return {}
    registry = registry if registry is not None else get_registry()
    try:
        recipe, _ = load_recipe(recipe_file, registry=registry)
        comp = registry.get("dataset", recipe.data.name)
        options = comp.parse_options(dict(recipe.data.options), "data.options")
        folder = getattr(options, comp.folder_option) if comp.folder_option else None
        if folder is None or not Path(folder).is_dir():
            return {}
        dataset = _first_split(comp, options)
        info = data_info(dataset)
        keys = {name: info.keys_for(direction) for name, direction in directions.items()}
        n = min(count, len(dataset))
        items = [dataset[(i, 0)] for i in range(n)] if any(keys.values()) else []
    except Exception:  # noqa: BLE001 - examples are a convenience: a data set that cannot serve them has none
        return {}
    out = Path(tempfile.mkdtemp(prefix="translate-demo-examples-"))
    atexit.register(shutil.rmtree, out, True)
    from ...data.imageio import save_image

    found: dict[str, tuple[Path, ...]] = {}
    for generator, key in keys.items():
        if key is None:
            continue
        paths = []
        for i, item in enumerate(items):
            stem = item.get(f"name_{key[0]}", item.get("name", ""))  # the data contract's file names
            label = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(stem))[:60] or key[0]
            paths.append(save_image(item[key[0]], out / generator / f"{i:02d}_{label}.png"))
        found[generator] = tuple(paths)
    return found


def _first_split(comp: Any, options: Any) -> Any:
    """The data set's ``test`` split, else its ``val`` split."""
    try:
        return comp.build(options, split="test")
    except TranslateError:  # a set without a test split
        return comp.build(options, split="val")


def demo_content(service: ModelService, examples: str | os.PathLike[str] | None = None) -> DemoContent:
    """What the demo of ``service``'s model shows (``examples``: the ``--share-examples`` folder)."""
    meta = service.pipeline.meta
    card = _card_text(service)
    directions = tuple(
        Direction(name, g.direction, g.input_domain, g.output_domain, g.in_channels,
                  (INK,) if g.in_channels < 3 else PALETTE)
        for name, g in ((n, meta.generators[n]) for n in service.pipeline.generators)
    )
    run_dir = service.pipeline.loaded.path.parent
    own = data_examples(run_dir, {d.generator: d.direction for d in directions})
    directions = tuple(replace(d, examples=own.get(d.generator, ())) for d in directions)
    pre = meta.preprocessing
    side = pre.recommended_size if pre and pre.recommended_size else 256
    multiple = pre.size_multiple if pre else meta.generators[meta.default].size_multiple
    side = max(64, min(512, side))
    side = max(multiple, -(-side // multiple) * multiple) if multiple <= 512 else multiple
    default = meta.generators[meta.default]
    title = f"{service.name}: {meta.method}, {default.input_domain} -> {default.output_domain}"
    return DemoContent(title=title, summary=summary_of(card), limitations=tuple(meta.limitations),
                       card=card_body(card), directions=directions,
                       examples=find_examples(run_dir, examples), canvas=side)


__all__ = ["DATA_EXAMPLES", "DemoContent", "Direction", "EXAMPLES_FOLDER", "INK", "MAX_EXAMPLES", "PALETTE",
           "card_body", "data_examples", "demo_content", "find_examples", "summary_of"]

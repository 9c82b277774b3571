"""What the demo page shows, worked out without Gradio: title, summary, limitations, the model
card, example inputs, the canvas size and the brush colours of each direction.

The summary is the first paragraph of the model card (the model folder's ``README.md`` when it
has one, else the card :func:`translate.models.card.model_card` writes from the metadata); the
limitations are the model's own (``ModelMeta.limitations``). Example inputs are the images of the
model folder's ``examples/`` folder, when present, and of ``--share-examples DIR``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ...data.imageio import list_images
from ...errors import TranslateError
from ..serve.service import ModelService

EXAMPLES_FOLDER = "examples"
"""A model folder's sub-folder of example inputs, shown by the demo when present."""
MAX_EXAMPLES = 24
"""Example images shown at most (the first, by name)."""
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


def demo_content(service: ModelService, examples: str | os.PathLike[str] | None = None) -> DemoContent:
    """What the demo of ``service``'s model shows (``examples``: the ``--share-examples`` folder)."""
    meta = service.pipeline.meta
    card = _card_text(service)
    directions = tuple(
        Direction(name, g.direction, g.input_domain, g.output_domain, g.in_channels,
                  (INK,) if g.in_channels < 3 else PALETTE)
        for name, g in ((n, meta.generators[n]) for n in service.pipeline.generators)
    )
    pre = meta.preprocessing
    side = pre.recommended_size if pre and pre.recommended_size else 256
    multiple = pre.size_multiple if pre else meta.generators[meta.default].size_multiple
    side = max(64, min(512, side))
    side = max(multiple, -(-side // multiple) * multiple) if multiple <= 512 else multiple
    default = meta.generators[meta.default]
    title = f"{service.name}: {meta.method}, {default.input_domain} -> {default.output_domain}"
    return DemoContent(title=title, summary=summary_of(card), limitations=tuple(meta.limitations),
                       card=card_body(card), directions=directions,
                       examples=find_examples(service.pipeline.loaded.path.parent, examples), canvas=side)


__all__ = ["DemoContent", "Direction", "EXAMPLES_FOLDER", "INK", "MAX_EXAMPLES", "PALETTE", "card_body",
           "demo_content", "find_examples", "summary_of"]

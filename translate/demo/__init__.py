"""The interactive demo: ``translate demo MODEL`` (Gradio, an optional extra; see ``docs/serving.md``).

- :mod:`~translate.demo.content`: what the page shows (title, summary, limitations, examples, canvas);
- :mod:`~translate.demo.app`: the Gradio page and its launch (Gradio imported only there, lazily);
- :mod:`~translate.demo.cli`: the ``translate demo`` command.

Example::

    from translate.demo import build_demo
    from translate.serve import ModelService

    build_demo(ModelService("runs/shapes/export")).launch()
"""

from __future__ import annotations

from .app import INSTALL_HINT, build_demo, editor_image, import_gradio, launch, translate_value
from .cli import add_demo_arguments, demo_cli
from .content import DemoContent, Direction, demo_content

__all__ = ["DemoContent", "Direction", "INSTALL_HINT", "add_demo_arguments", "build_demo", "demo_cli",
           "demo_content", "editor_image", "import_gradio", "launch", "translate_value"]

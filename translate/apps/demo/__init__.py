"""The interactive demo: ``translate demo MODEL`` (Gradio, an optional extra; see ``docs/serving.md``).

- :mod:`~translate.apps.demo.content`: what the page shows (title, summary, limitations, examples, canvas);
- :mod:`~translate.apps.demo.app`: the Gradio page and its launch (Gradio imported only there, lazily);
(the ``translate demo`` command is :mod:`translate.commands.demo`).

Example::

    from translate.apps.demo import build_demo
    from translate.apps.serve import ModelService

    build_demo(ModelService("runs/shapes/export")).launch()
"""

from __future__ import annotations

from .app import INSTALL_HINT, build_demo, editor_image, import_gradio, launch, translate_value
from .content import DemoContent, Direction, demo_content

__all__ = ["DemoContent", "Direction", "INSTALL_HINT", "build_demo",
           "demo_content", "editor_image", "import_gradio", "launch", "translate_value"]

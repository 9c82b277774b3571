"""The Gradio page of ``translate demo``: draw (or upload) on a canvas, see the translation beside it.

One tab per generator (both directions of a CycleGAN model). Each tab has a sketchpad (brush and
eraser; black ink on white, or a colour palette when the input has colour channels, as label
maps do; an image can be uploaded or pasted as the background) and the output, updated at the end
of each stroke. Under it: example inputs (when there are some), the model's limitations and its
card. Every translation goes through the :class:`~translate.apps.serve.ModelService`'s batcher, so
several visitors at once are batched and the model is only ever run by one thread.

Gradio is an optional extra (``pip install 'translate-i2i[demo]'``); :func:`import_gradio` says so
when it is missing. Gradio's usage analytics are turned off before it is imported.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import TranslateError
from ...utils.markdown import md_text
from ..serve.decode import to_uint8
from ..serve.limits import RequestError
from ..serve.service import ModelService
from .content import DemoContent, Direction, demo_content

if TYPE_CHECKING:  # pragma: no cover
    import gradio as gr

INSTALL_HINT = "pip install 'translate-i2i[demo]'"
"""How to install what the demo needs."""
CSS = ".translate-output img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }"
"""The output fills its box (small model outputs are scaled up for the eye, pixels kept sharp)."""


def import_gradio() -> Any:
    """Import Gradio (analytics off), or say how to install it.

    Raises:
        TranslateError: Gradio is not installed.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio
    except ImportError as err:
        raise TranslateError(f"the demo needs Gradio, an optional extra ({err}); install it with: {INSTALL_HINT}") \
            from None
    return gradio


def editor_image(value: Any) -> np.ndarray | None:
    """The sketchpad's composite (numpy ``HxWx{1,3,4}`` uint8) as an image-space array; ``None`` when empty."""
    if value is None:
        return None
    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        return None
    arr = np.asarray(composite)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        return None
    unit = arr.astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
    if unit.shape[2] in (2, 4):  # ink over white where the canvas is transparent
        alpha = unit[:, :, -1:]
        unit = unit[:, :, :-1] * alpha + (1.0 - alpha)
    return np.ascontiguousarray(unit, dtype=np.float32)


def translate_value(service: ModelService, generator: str, value: Any) -> np.ndarray | None:
    """Translate the sketchpad's value with ``generator``: uint8 ``HxW`` or ``HxWxC``, or ``None`` for no image.

    Raises:
        RequestError: the image has more pixels than the service accepts.
    """
    image = editor_image(value)
    if image is None:
        return None
    h, w = image.shape[:2]
    if h * w > service.limits.max_pixels:
        raise RequestError(413, "too_many_pixels",
                           f"the image is {w}x{h} pixels, more than the {service.limits.max_pixels} accepted")
    out = to_uint8(service.translate(image, generator))
    return out[:, :, 0] if out.shape[2] == 1 else out


def _tab(gr: Any, service: ModelService, content: DemoContent, d: Direction) -> None:
    white = np.full((content.canvas, content.canvas, 3), 255, np.uint8)
    with gr.Row(equal_height=True):
        editor = gr.Sketchpad(
            value={"background": white, "layers": [], "composite": white},
            type="numpy", image_mode="RGB", canvas_size=(content.canvas, content.canvas), fixed_canvas=True,
            sources=("upload", "clipboard"), layers=False, transforms=(),
            brush=gr.Brush(colors=list(d.colours), default_color=d.colours[0], default_size=max(2, content.canvas // 48),
                           color_mode="fixed" if len(d.colours) == 1 else "defaults"),
            eraser=gr.Eraser(default_size=max(4, content.canvas // 16)), label=f"draw {d.input_domain} (or upload an image)",
            elem_id=f"sketch-{d.generator}", format="png",
        )
        output = gr.Image(label=d.output_domain, type="numpy", format="png", interactive=False,
                          elem_id=f"output-{d.generator}", elem_classes=["translate-output"],
                          buttons=["download", "fullscreen"])

    def run(value: Any) -> np.ndarray | None:
        try:
            return translate_value(service, d.generator, value)
        except RequestError as err:
            raise gr.Error(err.message) from None

    # `input` (each stroke's end, the eraser, clearing) and `upload`: `change` does not fire for strokes on a
    # sketchpad that starts with a value (Gradio 6), and the white starting canvas makes the brush active at once
    for event in (editor.input, editor.upload):
        event(run, inputs=editor, outputs=output, trigger_mode="always_last", show_progress="minimal",
              api_name=False)
    examples = d.examples + content.examples  # the run's test inputs of this direction, then the shared ones
    if examples:
        gr.Examples(examples=[[str(p)] for p in examples], inputs=editor, outputs=output, fn=run,
                    run_on_click=True, cache_examples=False, label="examples: click one to translate it")


def build_demo(service: ModelService, *, examples: str | os.PathLike[str] | None = None,
               content: DemoContent | None = None) -> "gr.Blocks":
    """The demo page of ``service``'s model (``examples``: a folder of example inputs, shown too;
    ``content``: what :func:`~translate.apps.demo.content.demo_content` made, instead of making it here).

    Raises:
        TranslateError: Gradio is missing, or ``examples`` is not a folder of images.
    """
    gr = import_gradio()
    content = content if content is not None else demo_content(service, examples)
    with gr.Blocks(title=content.title, analytics_enabled=False) as blocks:
        gr.Markdown(f"# {_md(content.title)}\n\n{_md(content.summary)}")
        if len(content.directions) == 1:
            _tab(gr, service, content, content.directions[0])
        else:
            with gr.Tabs():
                for d in content.directions:
                    with gr.Tab(d.label, id=d.generator):
                        _tab(gr, service, content, d)
        lines = [f"- {_md(text)}" for text in content.limitations] or ["- none recorded with the model"]
        gr.Markdown("## Limitations\n\n" + "\n".join(lines))
        with gr.Accordion("Model card", open=False):
            gr.Markdown(content.card)
    return blocks


def launch(blocks: "gr.Blocks", service: ModelService, *, content: DemoContent | None = None,
           host: str = "127.0.0.1", port: int | None = None, open_browser: bool = False, block: bool = True) -> Any:
    """Start the page's server (Gradio's; ``content``: the page's, whose example folders Gradio may serve);
    ``block=False`` returns at once (tests); ``port=0``: a free port. Returns what ``gradio.Blocks.launch`` returns."""
    shown = (*content.examples, *(p for d in content.directions for p in d.examples)) if content else ()
    folders = sorted({str(p.parent) for p in shown})
    if port == 0:  # Gradio cannot bind port 0 itself: ask the system for a free one
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
    blocks.queue(default_concurrency_limit=service.limits.max_batch, max_size=service.limits.max_queue)
    return blocks.launch(server_name=host, server_port=port, inbrowser=open_browser, share=False,
                         prevent_thread_lock=not block, allowed_paths=folders, max_file_size=service.limits.max_bytes,
                         ssr_mode=False, quiet=not block, footer_links=[], css=CSS)


def _md(text: str) -> str:
    """Text shown as Markdown literally (the model's own strings are data, not markup)."""
    return md_text(text)


__all__ = ["INSTALL_HINT", "build_demo", "editor_image", "import_gradio", "launch", "translate_value"]

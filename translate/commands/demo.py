"""``translate demo MODEL [--port N] [--share-examples DIR]``: the drawing demo in the browser (Gradio)."""

from __future__ import annotations

import argparse
import sys

from ..inference.backend_choice import default_backend
from .serve import add_runtime_arguments, limits_from

DEFAULT_PORT = 7860
"""Gradio's usual port."""


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``translate demo``."""
    parser.add_argument("model", help="a model folder, a model.safetensors file, a run folder, or hf://owner/name[@rev]")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--share-examples", metavar="DIR",
                        help="a folder of example input images to show under the canvas (the model folder's "
                        "examples/ folder is shown too, when it has one)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser tab")
    add_runtime_arguments(parser)
    return parser


def demo_cli(args: argparse.Namespace) -> int:
    """``translate demo``: check Gradio first (before loading the model), build the page, serve until Ctrl-C."""
    from ..apps.demo.app import build_demo, import_gradio, launch
    from ..apps.demo.content import demo_content
    from ..apps.serve.service import ModelService

    import_gradio()
    service = ModelService(args.model, limits=limits_from(args), device=args.device, dtype=args.precision,
                           mode=args.mode, seed=args.seed,
                           backend=default_backend(getattr(args, "backend", None)))
    try:
        content = demo_content(service, args.share_examples)
        blocks = build_demo(service, content=content)
        print(f"demo of {service.name} on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
        launch(blocks, service, content=content, host=args.host, port=args.port, open_browser=not args.no_browser)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        service.close()
    return 0


__all__ = ["DEFAULT_PORT", "add_demo_arguments", "demo_cli"]

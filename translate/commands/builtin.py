"""The built-in commands, registered through the ``register_commands`` hook exactly like a plugin's.

This module is an ordinary plugin of translate's own distribution (entry point ``commands`` in
``pyproject.toml``): each command is a name, a function that adds its arguments to an
:class:`argparse.ArgumentParser` and a function that runs it and returns the exit status. Both are
imported on first use (:func:`~translate.plugin.factories.lazy_factory`), so listing the commands
(``translate --help``) imports neither torch nor the commands' own modules.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable

from ..plugin.factories import lazy_factory
from ..plugin.hookspecs import hookimpl


def _with_registry(module: str, attr: str) -> Callable[[argparse.Namespace], int]:
    """The command ``module.attr(args, registry)``, imported when it runs, given the command line's registry."""
    run = lazy_factory(module, attr)

    def command(args: argparse.Namespace) -> int:
        return run(args, args.registry)

    command.__name__ = command.__qualname__ = attr
    return command


@hookimpl
def register_commands(register: Callable[..., None]) -> None:
    """The commands of translate itself, in the order ``translate --help`` lists them."""
    here, cmd = __name__, "translate.commands"
    commands = [
        ("run", "train from a TOML recipe", (here, "add_run_arguments"), lazy_factory(here, "run_cli")),
        ("check", "validate a recipe without training", (here, "add_check_arguments"),
         lazy_factory(here, "check_cli")),
        ("plugins", "list installed plugins and what they register", (here, "add_plugins_arguments"),
         lazy_factory(here, "plugins_cli")),
        ("infer", "translate images with a trained model", (here, "add_infer_arguments"),
         _with_registry(f"{cmd}.infer", "infer_cli")),
        ("export", "write a shareable model folder (model.safetensors, config.json, README.md)",
         (here, "add_export_arguments"), _with_registry("translate.models.export", "export_cli")),
        ("eval", "evaluate a model on a data split and write evaluation.json", (f"{cmd}.eval", "add_eval_arguments"),
         _with_registry(f"{cmd}.eval", "eval_cli")),
        ("report", "write a run's self-contained HTML report (plots, samples, evaluation)",
         (f"{cmd}.report", "add_report_arguments"), lazy_factory(f"{cmd}.report", "report_cli")),
        ("push", "upload a model folder to the Hugging Face Hub", ("translate.models.hub.push", "add_push_arguments"),
         lazy_factory("translate.models.hub.push", "push_cli")),
        ("serve", "serve a model over HTTP (POST /translate, GET /model, GET /health)",
         (f"{cmd}.serve", "add_serve_arguments"), lazy_factory(f"{cmd}.serve", "serve_cli")),
        ("demo", "open an interactive drawing demo of a model in the browser (Gradio)",
         (f"{cmd}.demo", "add_demo_arguments"), lazy_factory(f"{cmd}.demo", "demo_cli")),
        ("convert", "turn the authors' pix2pix/CycleGAN checkpoints (.pth) into a model folder",
         (f"{cmd}.convert", "add_convert_arguments"), _with_registry(f"{cmd}.convert", "convert_cli")),
        ("data", "public data sets", (here, "add_data_arguments"), lazy_factory(here, "data_cli")),
        ("docs", "print generated documentation", (here, "add_docs_arguments"), lazy_factory(here, "docs_cli")),
    ]
    for name, description, (args_module, args_attr), run in commands:
        register(name, run, arguments=lazy_factory(args_module, args_attr), description=description)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate run RECIPE``."""
    parser.add_argument("recipe", help="path to a recipe .toml")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key (value parsed as TOML, e.g. --set train.epochs=5)")
    parser.add_argument("--output-dir", help="run folder (overrides output.dir)")
    parser.add_argument("--max-steps", type=int,
                        help="stop after this many optimizer steps (the schedule is unchanged)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, type=_resume_value, metavar="auto",
                        help="continue from the latest checkpoint in the run folder (an error when there is none); "
                        "--resume auto: continue when the folder has a checkpoint, else start the run (one command "
                        "line for a job that may be killed and started again, docs/cluster.md)")


def _resume_value(value: str) -> str:
    """The one value ``--resume`` takes: ``auto``."""
    if value != "auto":
        raise argparse.ArgumentTypeError(
            f"takes no value, or 'auto' (got {value!r}); to resume, give the recipe before --resume "
            "(translate run RECIPE --resume)")
    return value


def run_cli(args: argparse.Namespace) -> int:
    """Train, then write the run report (main process only)."""
    if os.environ.get("RANK", "0") == "0":  # the seconds of imports and setup before the first step are not silent
        print(f"preparing the run of {args.recipe}: loading PyTorch, the data set and the networks ...", flush=True)
    from ..engine.trainer import train

    result = train(args.recipe, overrides=args.overrides, output_dir=args.output_dir,
                   max_steps=args.max_steps, resume=args.resume, registry=args.registry)
    _run_report(getattr(result, "run_dir", None))
    return 0


def _run_report(run_dir: object) -> None:
    """Write the finished run's report; a failure is one warning line, never a failed run."""
    if run_dir is None or os.environ.get("RANK", "0") != "0":  # torchrun / accelerate: the other processes
        return
    try:
        from ..apps.report import write_report

        page = write_report(run_dir)
    except Exception as exc:  # noqa: BLE001 - the run itself succeeded; the report is a by-product
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"warning: the run report was not written ({type(exc).__name__}: {first}); "
              f"write it later with: translate report {run_dir}", file=sys.stderr)
        return
    print(f"run report: {page} (open it in a browser)")


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate check RECIPE``."""
    parser.add_argument("recipe")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def check_cli(args: argparse.Namespace) -> int:
    """Validate the recipe; one line on stdout (ok) or stderr (the problems)."""
    from ..recipe.check import check_recipe

    status, line = check_recipe(args.recipe, args.overrides, args.registry)
    print(line, file=sys.stderr if status else sys.stdout)
    return status


def add_plugins_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate plugins [--options] [--json]``."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--options", action="store_true",
                        help="each component's description and options (type, default, limits, description), "
                        "under the plugin and distribution it comes from")


def plugins_cli(args: argparse.Namespace) -> int:
    """List the installed plugins and what each registered."""
    from ..plugin.listing import print_plugins
    from ..plugin.loading import get_plugins

    if getattr(args, "options", False):
        import json

        from ..apps.docs import plugins_text, plugins_with_options

        plugins = get_plugins()
        sys.stdout.write(json.dumps(plugins_with_options(plugins), indent=2) + "\n" if args.json
                         else plugins_text(plugins))
        return 0
    print_plugins(get_plugins(), args.json)
    return 0


def add_infer_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate infer MODEL INPUTS... --out DIR``."""
    parser.add_argument("model", help="a model folder, a model.safetensors file, a run folder, or hf://owner/name[@rev]")
    parser.add_argument("inputs", nargs="+",
                        help="image files, folders (searched recursively) or quoted glob patterns "
                        "('photos/*.jpg', 'scans/**/*.png')")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--direction", help="which generator to run (e.g. AtoB / BtoA); default: the model's")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    parser.add_argument("--mode", choices=["model", "eval", "train"], default="model",
                        help="test-time mode: the one recorded in the model (default), eval, or train (paper)")
    parser.add_argument("--seed", type=int, default=0, help="seed for dropout in train mode")
    parser.add_argument("--size", metavar="N|WxH",
                        help="resize inputs to N x N (or W x H) for the network and each output back to its "
                        "input's size (default: pad to the network's size multiple and crop back)")
    parser.add_argument("--pairs", action="store_true",
                        help="inputs are A|B side-by-side pairs: translate the half on the generator's input side; "
                        "the other half is the target shown by --html")
    parser.add_argument("--html", action="store_true",
                        help="write OUT/index.html comparing input, output (and target with --pairs) side by side")
    parser.add_argument("--tile", type=int, metavar="N",
                        help="run images larger than N x N as overlapping N x N tiles blended together, in bounded "
                        "memory (N a multiple of the model's size multiple; default: off)")
    parser.add_argument("--tile-overlap", type=int, metavar="M",
                        help="minimum overlap of neighbouring tiles in pixels (default: min(32, N // 4))")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace output files that already exist in --out (never the inputs themselves)")
    parser.add_argument("--channels-last", action="store_true",
                        help="channels_last memory format (faster on CPUs, above all with --precision bf16)")
    parser.add_argument("--fast", action="store_true",
                        help="the inference fast path: BatchNorm folded into convolutions (eval mode), bf16 weights "
                        "where the device computes bf16 natively with an fp32 output layer, channels_last; outputs "
                        "within 0.05 of fp32 on the [-1, 1] scale (docs/performance.md)")
    parser.add_argument("--backend", choices=["auto", "torch", "onnx"], default=None,
                        help="auto (default; $TRANSLATE_BACKEND changes it): ONNX Runtime where it measured faster for "
                        "this model on this machine (once, cached in ~/.cache/translate/backend), else PyTorch; "
                        "torch; or onnx: ONNX Runtime on the CPU (fp32, eval mode), from the ONNX "
                        "file `translate export --onnx` wrote beside the model or one exported and checked on "
                        "first use into ~/.cache/translate/onnx (needs the onnx extra)")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate export RUN``."""
    parser.add_argument("run", help="a run folder (or a model folder / model.safetensors)")
    parser.add_argument("--out", help="output folder (default: RUN/export); must not exist or be empty")
    parser.add_argument("--best", action="store_true",
                        help="export the run's best checkpoint (model-best.safetensors, kept by the recipe's "
                        "[eval].best) instead of its last model")
    parser.add_argument("--onnx", action="store_true",
                        help="also write ONNX (dynamic height/width) and check it against PyTorch with onnxruntime")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate data download NAME`` and ``translate data list``."""
    dsub = parser.add_subparsers(dest="data_command")
    dl = dsub.add_parser("download", help="download and extract a public data set")
    dl.add_argument("name")
    dl.add_argument("--root", default="data", help="folder that receives NAME/ (default: data)")
    dsub.add_parser("list", help="list the data sets that can be downloaded")


def data_cli(args: argparse.Namespace) -> int:
    """``translate data``: without a subcommand, its help."""
    from .download import data_cli as run

    if args.data_command is None:
        args.command_parser.print_help()
        return 0
    return run(args, args.registry)


def add_docs_arguments(parser: argparse.ArgumentParser) -> None:
    """``translate docs recipes [--plugins]``."""
    parser.add_argument("topic", choices=["recipes"])
    parser.add_argument("--plugins", action="store_true",
                        help="add a section of the installed third-party components and their options (the "
                        "default page lists the built-in ones only, the same on every machine: docs/recipes.md)")


def docs_cli(args: argparse.Namespace) -> int:
    """Print the generated recipe reference."""
    from ..apps.docs import recipes_markdown

    installed = None
    if getattr(args, "plugins", False):
        from ..plugin.loading import get_registry

        installed = getattr(args, "registry", None) or get_registry()
    sys.stdout.write(recipes_markdown(installed))
    return 0

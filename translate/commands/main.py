"""The ``translate`` command line. Subcommands import their heavy modules lazily."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..recipe.check import check_recipe, error_result
from ..errors import TranslateError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="translate", description="Image-to-image translation: train, share and run models.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument(
        "--strict-plugins",
        action="store_true",
        help="fail when a plugin cannot be loaded (default: report it on one line and go on)",
    )
    sub = p.add_subparsers(dest="command")

    run = sub.add_parser("run", help="train from a TOML recipe")
    run.add_argument("recipe", help="path to a recipe .toml")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a recipe key (value parsed as TOML, e.g. --set train.epochs=5)")
    run.add_argument("--output-dir", help="run folder (overrides output.dir)")
    run.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (the schedule is unchanged)")
    run.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the run folder")

    check = sub.add_parser("check", help="validate a recipe without training")
    check.add_argument("recipe")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")

    plugins = sub.add_parser("plugins", help="list installed plugins and what they register")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    infer = sub.add_parser("infer", help="translate images with a trained model")
    infer.add_argument("model", help="a model folder, a model.safetensors file, a run folder, or hf://owner/name[@rev]")
    infer.add_argument("inputs", nargs="+",
                       help="image files, folders (searched recursively) or quoted glob patterns "
                       "('photos/*.jpg', 'scans/**/*.png')")
    infer.add_argument("--out", required=True, help="output folder")
    infer.add_argument("--direction", help="which generator to run (e.g. AtoB / BtoA); default: the model's")
    infer.add_argument("--batch-size", type=int, default=4)
    infer.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    infer.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    infer.add_argument("--mode", choices=["model", "eval", "train"], default="model",
                       help="test-time mode: the one recorded in the model (default), eval, or train (paper)")
    infer.add_argument("--seed", type=int, default=0, help="seed for dropout in train mode")
    infer.add_argument("--size", metavar="N|WxH",
                       help="resize inputs to N x N (or W x H) for the network and each output back to its "
                       "input's size (default: pad to the network's size multiple and crop back)")
    infer.add_argument("--pairs", action="store_true",
                       help="inputs are A|B side-by-side pairs: translate the half on the generator's input side; "
                       "the other half is the target shown by --html")
    infer.add_argument("--html", action="store_true",
                       help="write OUT/index.html comparing input, output (and target with --pairs) side by side")
    infer.add_argument("--tile", type=int, metavar="N",
                       help="run images larger than N x N as overlapping N x N tiles blended together, in bounded "
                       "memory (N a multiple of the model's size multiple; default: off)")
    infer.add_argument("--tile-overlap", type=int, metavar="M",
                       help="minimum overlap of neighbouring tiles in pixels (default: min(32, N // 4))")
    infer.add_argument("--overwrite", action="store_true",
                       help="replace output files that already exist in --out (never the inputs themselves)")
    infer.add_argument("--channels-last", action="store_true",
                       help="channels_last memory format (faster on CPUs, above all with --precision bf16)")
    infer.add_argument("--fast", action="store_true",
                       help="the inference fast path: BatchNorm folded into convolutions (eval mode), bf16 weights "
                       "where the device computes bf16 natively with an fp32 output layer, channels_last; outputs "
                       "within 0.05 of fp32 on the [-1, 1] scale (docs/performance.md)")

    exp = sub.add_parser("export", help="write a shareable model folder (model.safetensors, config.json, README.md)")
    exp.add_argument("run", help="a run folder (or a model folder / model.safetensors)")
    exp.add_argument("--out", help="output folder (default: RUN/export); must not exist or be empty")
    exp.add_argument("--best", action="store_true",
                     help="export the run's best checkpoint (model-best.safetensors, kept by the recipe's "
                     "[eval].best) instead of its last model")
    exp.add_argument("--onnx", action="store_true",
                     help="also write ONNX (dynamic height/width) and check it against PyTorch with onnxruntime")

    evaluate = sub.add_parser("eval", help="evaluate a model on a data split and write evaluation.json")
    from .eval import add_eval_arguments

    add_eval_arguments(evaluate)

    report = sub.add_parser("report", help="write a run's self-contained HTML report (plots, samples, evaluation)")
    from .report import add_report_arguments

    add_report_arguments(report)

    push = sub.add_parser("push", help="upload a model folder to the Hugging Face Hub")
    from ..models.hub import add_push_arguments

    add_push_arguments(push)

    serve = sub.add_parser("serve", help="serve a model over HTTP (POST /translate, GET /model, GET /health)")
    from .serve import add_serve_arguments

    add_serve_arguments(serve)

    demo = sub.add_parser("demo", help="open an interactive drawing demo of a model in the browser (Gradio)")
    from .demo import add_demo_arguments

    add_demo_arguments(demo)

    conv = sub.add_parser("convert", help="turn the authors' pix2pix/CycleGAN checkpoints (.pth) into a model folder")
    from .convert import add_convert_arguments

    add_convert_arguments(conv)

    data = sub.add_parser("data", help="public data sets")
    dsub = data.add_subparsers(dest="data_command")
    dl = dsub.add_parser("download", help="download and extract a public data set")
    dl.add_argument("name")
    dl.add_argument("--root", default="data", help="folder that receives NAME/ (default: data)")
    dsub.add_parser("list", help="list the data sets that can be downloaded")

    docs = sub.add_parser("docs", help="print generated documentation")
    docs.add_argument("topic", choices=["recipes"])
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        from ..version import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    previous = os.environ.get("TRANSLATE_STRICT_PLUGINS")
    if args.strict_plugins:
        os.environ["TRANSLATE_STRICT_PLUGINS"] = "1"
    try:
        return _dispatch(args, parser)
    except TranslateError as err:
        status, line = error_result(err)
        print(line, file=sys.stderr)
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        from ..utils.disk import is_disk_full

        if not is_disk_full(err):
            raise
        where = f" while writing {err.filename}" if err.filename else ""
        print(f"error: the disk is full ({err.strerror}){where}; free some space and run the command again "
              "(files are written atomically, so what was there before is intact; a training run continues "
              "from its last checkpoint with --resume)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `translate plugins --json | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if args.strict_plugins:  # in-process callers (tests, notebooks) get their environment back
            if previous is None:
                os.environ.pop("TRANSLATE_STRICT_PLUGINS", None)
            else:
                os.environ["TRANSLATE_STRICT_PLUGINS"] = previous


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "run":
        from ..engine.trainer import train

        result = train(args.recipe, overrides=args.overrides, output_dir=args.output_dir,
                       max_steps=args.max_steps, resume=args.resume)
        _run_report(getattr(result, "run_dir", None))
        return 0
    if args.command == "check":
        status, line = check_recipe(args.recipe, args.overrides)
        print(line, file=sys.stderr if status else sys.stdout)
        return status
    if args.command == "plugins":
        return _plugins(args.json)
    if args.command == "infer":
        from .infer import infer_cli

        return infer_cli(args)
    if args.command == "export":
        from ..models.export import export_cli

        return export_cli(args)
    if args.command == "eval":
        from .eval import eval_cli

        return eval_cli(args)
    if args.command == "report":
        from .report import report_cli

        return report_cli(args)
    if args.command == "push":
        from ..models.hub import push_cli

        return push_cli(args)
    if args.command == "serve":
        from .serve import serve_cli

        return serve_cli(args)
    if args.command == "demo":
        from .demo import demo_cli

        return demo_cli(args)
    if args.command == "convert":
        from .convert import convert_cli

        return convert_cli(args)
    if args.command == "data":
        from .download import data_cli

        if args.data_command is None:
            parser.parse_args(["data", "--help"])
        return data_cli(args)
    if args.command == "docs":
        from ..apps.docs import recipes_markdown

        sys.stdout.write(recipes_markdown())
        return 0
    raise AssertionError(args.command)


def _run_report(run_dir: object) -> None:
    """Write the finished run's report (main process only); a failure is one warning line, never a failed run."""
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


def _plugins(as_json: bool) -> int:
    from ..plugin.listing import print_plugins
    from ..plugin.loading import get_plugins

    print_plugins(get_plugins(), as_json)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

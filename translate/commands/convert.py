"""``translate convert FILE.pth [FILE_B.pth] [--out DIR] ...``: the command-line glue around :func:`convert`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ..errors import TranslateError

if TYPE_CHECKING:  # pragma: no cover
    from ..plugin.registry import Registry


def add_convert_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of ``translate convert``."""
    parser.add_argument("files", metavar="FILE", nargs="+",
                        help="the authors' generator checkpoint: *_net_G.pth (pix2pix, or a published CycleGAN "
                             "model such as horse2zebra.pth), or *_net_G_A.pth *_net_G_B.pth (a CycleGAN pair)")
    parser.add_argument("--out", metavar="DIR",
                        help="model folder to create (must not exist or be empty; default: FILE's folder/<name>-translate)")
    parser.add_argument("--direction", choices=["AtoB", "BtoA"],
                        help="one generator: its direction label (default AtoB; BtoA for *_net_G_B.pth); "
                             "a pair: the direction run by default")
    parser.add_argument("--input-domain", metavar="NAME", help="what the generator reads, e.g. horse (default A)")
    parser.add_argument("--output-domain", metavar="NAME", help="what it writes, e.g. zebra (default B); "
                                                                "a pair's G_B maps them the other way")
    parser.add_argument("--generator", metavar="KIND",
                        help="registered generator to read the file with (default: recognised from the tensors)")
    parser.add_argument("--set", dest="overrides", metavar="KEY=VALUE", action="append", default=[],
                        help="a generator option replacing the inferred one, e.g. --set dropout=0 for a pix2pix "
                             "model trained with --no_dropout (repeatable; VALUE is JSON or text)")
    parser.add_argument("--method", choices=["pix2pix", "cyclegan"],
                        help="the authors' model the file comes from (default: a pair or *_net_G_[AB].pth is "
                             "cyclegan; *_net_G.pth is pix2pix with BatchNorm, cyclegan without)")
    parser.add_argument("--test-mode", choices=["train", "eval"],
                        help="test-time mode recorded in the model (default: train, as the authors' test.py "
                             "without --eval, when the network has BatchNorm or dropout; eval otherwise)")
    parser.add_argument("--source", metavar="TEXT", help="where the weights came from (a URL), for the model card")
    parser.add_argument("--license", metavar="TEXT", help="the weights' licence, for the model card")
    parser.add_argument("--push", metavar="OWNER/NAME", help="then upload the folder to this Hub model repository")
    parser.add_argument("--private", action="store_true", help="with --push: create the repository private")
    return parser


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["dropout=0", "norm=instance"]`` -> ``{"dropout": 0, "norm": "instance"}`` (JSON values, else text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TranslateError(f"--set {item!r}: expected KEY=VALUE, e.g. --set dropout=0")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out[key] = value
    return out


def convert_cli(args: argparse.Namespace, registry: "Registry | None" = None) -> int:
    """``translate convert``: write the folder, say what was recognised, push it when asked."""
    from ..models.convert.model import convert

    if len(args.files) > 2:
        raise TranslateError(f"convert takes one generator file or a CycleGAN pair, got {len(args.files)} files")
    if getattr(args, "push", None):
        from ..models.hub.ids import split_id

        split_id(args.push, None)  # a malformed id fails before anything is read
    result = convert(
        args.files, getattr(args, "out", None),
        direction=getattr(args, "direction", None),
        input_domain=getattr(args, "input_domain", None), output_domain=getattr(args, "output_domain", None),
        generator=getattr(args, "generator", None), overrides=parse_overrides(getattr(args, "overrides", []) or []),
        method=getattr(args, "method", None), test_mode=getattr(args, "test_mode", None),
        source=getattr(args, "source", None), license=getattr(args, "license", None), registry=registry,
    )
    for g in result.generators:
        rec, ckpt = g.recognised, g.checkpoint
        shown = ", ".join(f"{k}={v}" for k, v in rec.options.model_dump(mode="json").items()
                          if k not in ("init", "init_gain"))
        print(f"{ckpt.path}: {rec.component.name} ({shown}; {rec.in_channels}->{rec.out_channels} channels) -> "
              f"generator {g.spec.name} ({g.spec.input_domain}->{g.spec.output_domain}, {g.spec.test_mode} mode)")
        for note in ckpt.notes:
            print(f"  note: {note}")
        if ckpt.dropped:
            print(f"  note: dropped {len(ckpt.dropped)} InstanceNorm statistics saved by PyTorch < 0.4 "
                  "(as the authors' loader does)")
    print(f"converted -> {result.out} ({result.meta.method}): model.safetensors, config.json, README.md")
    print(f"run it: translate infer {result.out} INPUT --out OUT")
    if getattr(args, "push", None):
        from ..models.hub import push

        print(f"pushing {result.out} to {args.push}", file=sys.stderr)
        url = push(result.out, args.push, private=bool(getattr(args, "private", False)))
        print(f"pushed {result.out} to {args.push}: {url}")
    return 0


__all__ = ["add_convert_arguments", "convert_cli", "parse_overrides"]

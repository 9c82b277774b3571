"""The ``translate`` command line: every command, built-in or a plugin's, comes from the registry.

The built-in commands are registered by :mod:`translate.commands.builtin` through the
``register_commands`` hook, exactly like a plugin's. Only the chosen command's arguments are built,
and commands import their heavy modules when they run, so ``translate --help`` imports no torch.
Errors (:class:`~translate.errors.TranslateError`) are printed as ``error: ...`` with exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..errors import TranslateError
from ..plugin.registry import Registry
from ..recipe.check import error_result

DESCRIPTION = "Image-to-image translation: train, share and run models."


def _global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--strict-plugins", action="store_true",
                        help="fail when a plugin cannot be loaded (default: report it on one line and go on)")


def build_parser(registry: Registry, command: str | None = None) -> argparse.ArgumentParser:
    """The parser with one subcommand per registered command (one line of help each); ``command``'s
    own arguments are added (the others' are not built)."""
    parser = argparse.ArgumentParser(prog="translate", description=DESCRIPTION)
    parser.set_defaults(registry=registry)  # the one registry, made here at the edge and handed down
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _ordered(registry):
        comp = registry.get("command", name)
        where = "" if comp.plugin.builtin else f" [{comp.plugin.distribution}]"
        p = sub.add_parser(name, help=comp.description + where, description=comp.description + where)
        p.set_defaults(command_parser=p)
        if name == command and comp.arguments is not None:
            comp.arguments(p)
    return parser


def _ordered(registry: Registry) -> list[str]:
    """Built-in commands in their registration order, then the plugins' by name."""
    comps = list(registry.of_kind("command").values())
    return [c.name for c in comps if c.plugin.builtin] + sorted(c.name for c in comps if not c.plugin.builtin)


def _chosen(argv: list[str]) -> tuple[argparse.Namespace, str | None]:
    """The global options and the command name, read before any command's arguments exist."""
    pre = argparse.ArgumentParser(add_help=False)
    _global_options(pre)
    known, rest = pre.parse_known_args(argv)
    command = next((word for word in rest if not word.startswith("-")), None)
    return known, command


def _print_version() -> int:
    from ..version import __version__

    print(__version__)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``translate ARGV``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    known, command = _chosen(argv)
    if known.version and command is None:  # no plugins loaded for this
        return _print_version()
    try:
        from ..plugin.loading import get_plugins

        registry = get_plugins(strict=True if known.strict_plugins else None).registry  # None: the environment's
        parser = build_parser(registry, command)
        args = parser.parse_args(argv)
        if args.version:
            return _print_version()
        if args.command is None:
            parser.print_help()
            return 0
        return int(registry.get("command", args.command).factory(args) or 0)
    except TranslateError as err:
        status, line = error_result(err)
        print(line, file=sys.stderr)
        return status
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `translate plugins --json | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as err:
        from ..utils.disk import is_disk_full

        if not is_disk_full(err):
            raise
        where = f" while writing {err.filename}" if err.filename else ""
        print(f"error: the disk is full ({err.strerror}){where}; free some space and run the command again "
              "(files are written atomically, so what was there before is intact; a training run continues "
              "from its last checkpoint with --resume)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

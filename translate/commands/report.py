"""``translate report RUN [--out FILE]``: write the run report and say where it is."""

from __future__ import annotations

import argparse


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``translate report``."""
    parser.add_argument("run", metavar="RUN",
                        help="the run folder ('translate run' writes it: the recipe's [output] dir)")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="the HTML file to write (default RUN/report.html); the plots go as PNG files into "
                             "the folder beside it named after it (RUN/report/)")


def report_cli(args: argparse.Namespace) -> int:
    """Write the report of ``args.run``; print the page's path (and what the run folder lacks)."""
    from ..apps.report.page import assets_folder, write_run_report
    from ..run.folder import read_run_folder

    run = read_run_folder(args.run)
    page = write_run_report(run, out=args.out)
    print(f"wrote {page} (plots as PNG in {assets_folder(page)}/); open it in a browser, no server needed")
    for note in run.notes.values():
        print(f"  not in the report: {note}")
    return 0


__all__ = ["add_report_arguments", "report_cli"]

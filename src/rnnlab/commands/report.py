"""``rnnlab report DIR``: rebuild the comparison report from a results store alone."""

from __future__ import annotations

import argparse

from rnnlab.compare.margins import MARGIN_HELP


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    parser = sub.add_parser(
        "report",
        help="rebuild report.md and report.html of a comparison store",
        description="Read DIR/results.db and write DIR/report.md, DIR/report_files/*.png and a "
        "self-contained DIR/report.html; print the summary table.",
    )
    parser.add_argument("store", metavar="DIR", help="a store written by rnnlab compare")
    parser.add_argument(
        "--test",
        choices=["welch", "bootstrap"],
        default="welch",
        help="significance test of the verdicts (default welch: Welch, or a permutation test "
        "where its assumptions fail; bootstrap: always the permutation test)",
    )
    parser.add_argument("--margin", default=None, help=MARGIN_HELP)
    parser.add_argument("--quiet", action="store_true", help="do not print the summary table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report; a directory that is not a store is a user error (exit 2)."""
    from rich.console import Console

    from rnnlab.compare.margins import parse_margin
    from rnnlab.report import build_report, print_summary

    files = build_report(args.store, method=args.test, margin=parse_margin(args.margin))
    if not args.quiet:
        print_summary(files.groups)
    Console(stderr=True).print(f"report: {files.markdown} and {files.html}")
    return 0

"""``rnnlab datasets [--info NAME]``: list the built-in data sets, or describe one."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``datasets``."""
    parser = sub.add_parser(
        "datasets",
        help="list the built-in offline data sets (size, role, installed) or describe one",
        description="Every data set ships inside a Python package and loads offline. "
        "Without arguments: a table of all of them. With --info NAME: license, citation, "
        "split, shapes and preprocessing.",
    )
    parser.add_argument("--info", metavar="NAME", default=None, help="describe one data set")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the table or one data set's card."""
    from rich.console import Console
    from rich.table import Table

    from rnnlab.data.datasets import available, info

    console = Console()
    if args.info is not None:
        card = info(args.info)
        table = Table(title=card.name, show_header=False, box=None)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        status = "yes" if card.installed else f"no — install with: {card.install}"
        for field, value in [
            ("role", card.role),
            ("returns", card.container),
            ("size", card.size),
            ("shape", card.shape),
            ("split", card.split),
            ("preprocessing", card.preprocessing),
            ("source", card.source),
            ("installed", status),
            ("license", card.license),
            ("citation", card.citation),
        ]:
            table.add_row(field, value)
        console.print(table)
        return 0
    table = Table(title="rnnlab data sets (offline)")
    for column in ("name", "role", "size", "installed"):
        table.add_column(column, overflow="fold")
    for card in available():
        installed = "yes" if card.installed else f"no ({card.install})"
        table.add_row(card.name, card.role, card.size, installed)
    console.print(table)
    console.print("Details: rnnlab datasets --info NAME")
    return 0

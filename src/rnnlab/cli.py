"""The ``rnnlab`` command line: a thin layer over the Python API.

Each subcommand lives in its own module of :mod:`rnnlab.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed namespace and returning an exit code). Modules are discovered, so adding a command
never edits this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from rnnlab import __version__
from rnnlab.errors import UserInputError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every subcommand of :mod:`rnnlab.commands`."""
    import rnnlab.commands as commands

    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description="Recurrent sequence models: exact layers, fair comparisons, diagnostics.",
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"rnnlab.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``rnnlab`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return int(args.func(args) or 0)
    except UserInputError as err:
        print(f"rnnlab {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"rnnlab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

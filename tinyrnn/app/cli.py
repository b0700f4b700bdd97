"""The `tinyrnn` command line: one subcommand per pipeline stage.

Contract (scripts depend on it): with ``--json`` a command prints exactly one JSON
object on stdout and nothing else there; human text goes to stderr. Exit 0 on
success; a user mistake prints one line ``tinyrnn: error: ...`` and exits 2; an
unverified result (mismatches) exits 1. Stages talk only through files, so each
step runs on its own.
"""

from __future__ import annotations

import argparse
import json
import sys

from tinyrnn import __version__
from tinyrnn.app.commands import COMMANDS
from tinyrnn.core.errors import TinyrnnError


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tinyrnn", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"tinyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.configure(p)
        _add_json(p)
        p.set_defaults(func=module.run)
    return parser


def emit(result: dict, as_json: bool, human: str) -> None:
    """The single place that writes a command's result."""
    if as_json:
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    else:
        sys.stderr.write(human.rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result, human = args.func(args)
    except TinyrnnError as exc:
        sys.stderr.write(f"tinyrnn: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("tinyrnn: interrupted\n")
        return 130
    emit(result, args.json, human)
    return 1 if result.get("verified") is False or result.get("mismatches") else 0


if __name__ == "__main__":
    sys.exit(main())

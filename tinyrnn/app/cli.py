"""The `tinyrnn` command line: one subcommand per pipeline stage.

Contract (scripts depend on it): the result goes to stdout — exactly one JSON object
with ``--json``, text otherwise — so ``tinyrnn eval ... | tee`` captures it; progress
and log lines go to stderr (``-q`` silences them, ``-v`` adds detail). Exit 0 on
success; a user mistake, bad arguments included, prints one line
``tinyrnn: error: ...`` and exits 2; an unverified result (mismatches) exits 1.
Stages talk only through files, so each step runs on its own.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tinyrnn import __version__
from tinyrnn.app.commands import COMMANDS
from tinyrnn.core import progress
from tinyrnn.core.errors import TinyrnnError


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows every option's default that means something (not None/False) unless the help text
    already names it; keeps the hand-made line breaks of the descriptions."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is False or default == argparse.SUPPRESS or "default" in text
                or not action.option_strings
                or (action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction))):  # plain flags
            return text
        return f"{text} (default: %(default)s)".lstrip()


class _Parser(argparse.ArgumentParser):
    """Argument errors follow the same one-line ``tinyrnn: error:`` rule as every other user mistake."""

    def error(self, message):
        where = self.prog.removeprefix("tinyrnn").strip()
        sys.stderr.write(f"tinyrnn: error: {where + ': ' if where else ''}{message} (see {self.prog} --help)\n")
        sys.exit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinyrnn", description=__doc__.splitlines()[0], formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"tinyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__ or module.HELP, formatter_class=_Formatter)
        module.configure(p)
        out = p.add_argument_group("output")
        out.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout")
        loud = out.add_mutually_exclusive_group()
        loud.add_argument("-q", "--quiet", action="store_true", help="no progress or log lines on stderr")
        loud.add_argument("-v", "--verbose", action="count", default=0, help="more log lines on stderr (-vv: debug)")
        p.set_defaults(func=module.run)
    return parser


def _configure_logging(quiet: bool, verbose: int) -> None:
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, stream=sys.stderr, format="tinyrnn: %(levelname)s: %(message)s")
    logging.getLogger().setLevel(level)
    progress.set_quiet(quiet)


def emit(result: dict, as_json: bool, human: str) -> None:
    """The single place that writes a command's result."""
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n" if as_json else human.rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.quiet, args.verbose)
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

"""One module per `tinyrnn` subcommand, each defining ``HELP``, ``configure(parser)`` and
``run(args) -> (result dict, human text)``; the CLI lists them here in help order."""

from tinyrnn.app.commands import (
                                  bench,
                                  boards,
                                  build,
                                  codegen,
                                  demo,
                                  eval,
                                  flash,
                                  ports,
                                  quantize,
                                  report,
                                  train,
                                  vectors,
                                  verify,
)

COMMANDS = {"train": train, "quantize": quantize, "eval": eval, "vectors": vectors, "codegen": codegen,
            "build": build, "verify": verify, "report": report, "demo": demo, "flash": flash, "ports": ports,
            "bench": bench, "boards": boards}  # fmt: skip

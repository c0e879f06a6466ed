"""The `tokengate` command: manage clients through the admin API, fetch a client's token, and run
the local stack.

Layout, one job per module:

- :mod:`~tokengate.cli.target`: which stage to call and with whose credentials;
- :mod:`~tokengate.cli.http`: the (SigV4-signed) HTTP call and the API's errors as :class:`CliError`;
- :mod:`~tokengate.cli.output`: tables, JSON, bare tokens;
- :mod:`~tokengate.cli.options`: options shared by commands (argparse parent parsers);
- :mod:`tokengate.cli.commands`: one module per command group, each with
  ``register(commands, parents)`` adding its subcommands and their ``func(args) -> int``;
- :mod:`~tokengate.cli.parser`: the parser and ``COMMAND_GROUPS``, the registry.

Adding a command group is one new module under ``commands/`` plus one line in ``COMMAND_GROUPS``.
Expected failures raise :class:`~tokengate.cli.errors.CliError`, printed here as one line,
``error: <code>: <message>``, with a non-zero exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from tokengate.cli.errors import CliError
from tokengate.cli.parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`tokengate openapi | head`): nothing went wrong here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result

"""The `tokengate` command: manage clients through the admin API, fetch a client's token, run the
local stack, plan capacity.

Layout, one job per module:

- :mod:`~tokengate.cli.target`: which stage to call and with whose credentials;
- :mod:`~tokengate.cli.http`: the (SigV4-signed) HTTP call, and failures as :class:`CliError`;
- :mod:`~tokengate.cli.output`: tables, JSON, bare tokens;
- :mod:`~tokengate.cli.options`: the global options, shared options, argument types, ``command()``;
- :mod:`tokengate.cli.commands`: one module per command group (a package for ``clients``, one
  module per kind of command), each with ``register(commands, parents)`` adding its commands
  through one small registration function per command, each command's ``func(args) -> int``;
- :mod:`~tokengate.cli.parser`: the parser and ``COMMAND_GROUPS``, the registry.

Adding a command group is one new module under ``commands/`` plus one line in ``COMMAND_GROUPS``;
build its commands with :func:`~tokengate.cli.options.command` (examples are required) and take
shared options from ``parents``. Expected failures raise :class:`~tokengate.cli.errors.CliError`,
printed here as one line with the exit status it carries.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from tokengate.cli.errors import EXIT_INTERRUPTED, EXIT_OK, CliError


def main(argv: Sequence[str] | None = None) -> int:
    from tokengate.cli.options import finish
    from tokengate.cli.parser import build_parser

    json_errors = False
    try:
        args = finish(build_parser().parse_args(argv))
        json_errors = args.json_errors
        status: int = args.func(args)
        sys.stdout.flush()  # here, where a closed pipe is still ours to handle
    except CliError as error:
        if json_errors:
            print(json.dumps({"code": error.code, "message": error.message}), file=sys.stderr)
        else:
            print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader stopped reading (`tokengate openapi | head`): nothing went wrong here. Python
        # would flush stdout again at exit and fail on the same pipe, so it gets /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return status

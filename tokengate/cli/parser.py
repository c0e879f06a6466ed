"""The command line: global help, and the registry of command groups."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tokengate.cli.commands import capacity, clients, events, keys, leaks, local, migrate, openapi, token
from tokengate.cli.options import Parents, Subcommands, parents

#: Each command group, in the order ``--help`` lists them: a module with ``register(commands, parents)``.
COMMAND_GROUPS: tuple[Callable[[Subcommands, Parents], None], ...] = (
    clients.register,
    keys.register,
    migrate.register,
    token.register,
    leaks.register,
    events.register,
    openapi.register,
    local.register,
    capacity.register,
)

EPILOG = """\
endpoint: --endpoint URL (the stage URL, e.g. http://127.0.0.1:8080/dev), or --stack-name NAME
(reads the deployed stack's ApiUrl output), else $TOKENGATE_ENDPOINT, else the local stack at
http://127.0.0.1:${TOKENGATE_PORT:-8080}/dev. Local stack: credentials from <state dir>/credentials.json
(--state-dir, default ${TOKENGATE_HOME:-.tokengate}); deployed stack: the AWS credential chain.
exit status: 0 ok, 1 the API refused, 2 usage, 3 endpoint or credentials unavailable."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokengate",
        description="Per-client bearer tokens for API Gateway HTTP APIs: manage clients and keys, fetch a "
        "client's token, run the local stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = parents()
    for register in COMMAND_GROUPS:
        register(commands, shared)
    return parser

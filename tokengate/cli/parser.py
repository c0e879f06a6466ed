"""The command line: global options, ``--version``, and the registry of command groups."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from tokengate.cli.commands import (
    capacity,
    clients,
    completion,
    console,
    events,
    guardrails,
    keys,
    leaks,
    local,
    migrate,
    openapi,
    tenant_policy,
    token,
)
from tokengate.cli.errors import EXIT_STATUSES
from tokengate.cli.options import Parents, Parser, Subcommands, add_global_options, give_groups_examples, parents

#: Each command group, in the order ``--help`` lists them: a module with ``register(commands, parents)``.
COMMAND_GROUPS: tuple[Callable[[Subcommands, Parents], None], ...] = (
    clients.register,
    keys.register,
    migrate.register,
    token.register,
    tenant_policy.register,
    guardrails.register,
    leaks.register,
    events.register,
    openapi.register,
    local.register,
    console.register,
    capacity.register,
    completion.register,
)

EPILOG = """\
Global options work before or after the command (tokengate --output json clients list -t acme).
The endpoint: --endpoint URL, or --stack-name NAME (its ApiUrl output), else $TOKENGATE_ENDPOINT,
else the local stack: on $TOKENGATE_PORT, else the one running on the state folder (--state-dir,
$TOKENGATE_HOME, or the nearest .tokengate here or above) at the URL it recorded, else
http://127.0.0.1:8080/dev; signed with the local admin's credentials from that state folder. Any
other URL is signed with the AWS credential chain ($AWS_PROFILE, $AWS_REGION, ...).
Errors are one line on standard error (JSON with --output json).
exit status: """


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("tokengate")
    except PackageNotFoundError:  # pragma: no cover - run from a checkout that was never installed
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tokengate",
        description="Per-client bearer tokens for API Gateway HTTP APIs: manage clients and keys, fetch a "
        "client's token, run the local stack.",
        epilog=EPILOG + ", ".join(f"{status} {meaning}" for status, meaning in EXIT_STATUSES.items()) + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}", help="print the version")
    add_global_options(parser, output=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = parents()
    for register in COMMAND_GROUPS:
        register(commands, shared)
    give_groups_examples(parser)
    return parser

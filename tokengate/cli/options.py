"""Options shared by several commands, as argparse parent parsers, and the argument types.

A command group takes what it needs from :class:`Parents` (``parents=[p.connection, p.output]``), so
every command spells a shared option the same way and with the same help.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TypeAlias

from tokengate.cli.target import port_number

Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def port(text: str) -> int:
    try:
        return port_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


@dataclass(frozen=True)
class Parents:
    connection: argparse.ArgumentParser
    output: argparse.ArgumentParser
    issued_output: argparse.ArgumentParser
    tenant: argparse.ArgumentParser
    client: argparse.ArgumentParser


def parents() -> Parents:
    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("endpoint and credentials")
    group.add_argument("--endpoint", help="stage base URL, e.g. http://127.0.0.1:8080/dev")
    group.add_argument("--stack-name", help="deployed stack whose ApiUrl output to use (default stack: TokenGate)")
    group.add_argument("--region", help="AWS region (default: from the URL, the profile, or us-east-1 locally)")
    group.add_argument("--profile", help="AWS profile for a deployed stack")
    group.add_argument(
        "--credentials",
        choices=["local", "aws"],
        help="where the signing keys come from: the local stack's state folder, or the AWS credential chain "
        "(default: local for a loopback endpoint, aws otherwise)",
    )
    group.add_argument("--state-dir", help="local stack state folder (default: ${TOKENGATE_HOME:-.tokengate})")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer (default 30)")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--output", "-o", choices=["table", "json"], default="table", help="output format")
    issued_output = argparse.ArgumentParser(add_help=False)
    issued_output.add_argument(
        "--output",
        "-o",
        choices=["table", "json", "token"],
        default="table",
        help="output format; 'token' prints only the token (for TOKEN=$(...))",
    )
    tenant = argparse.ArgumentParser(add_help=False)
    tenant.add_argument("--tenant", "-t", required=True, help="tenant id")
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("client", metavar="CLIENT", help="client id, or the client's name")
    return Parents(connection, output, issued_output, tenant, client)

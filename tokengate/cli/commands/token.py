"""``tokengate token fetch``: a client's own call, made with its token (no IAM identity needed).

The token is read from a file or the environment, never from the command line, which other users
of the machine can read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import send
from tokengate.cli.options import Parents, Subcommands, add_output, command
from tokengate.cli.target import stage_base

#: Where `token fetch` reads the token when no --token-file is given.
TOKEN_ENV = "TOKENGATE_TOKEN"


def _read_token(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The client's token from --token-file (``-``: standard input) or $TOKENGATE_TOKEN, checked
    offline (format and checksum; an imported token's shape) so a typo is one clear line, not a 403."""
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core.tokens import format as tokens

    if args.token_file:
        where = "standard input" if args.token_file == "-" else args.token_file
        try:
            text = sys.stdin.read() if args.token_file == "-" else Path(args.token_file).read_text()
        except OSError as error:
            raise CliError("usage", f"cannot read {where}: {error.strerror or error}", EXIT_USAGE) from None
    elif environ.get(TOKEN_ENV):
        where, text = f"${TOKEN_ENV}", environ[TOKEN_ENV]
    else:
        raise CliError(
            "usage",
            f"give --token-file FILE (or -) or set {TOKEN_ENV}; a token is never taken from the command line",
            EXIT_USAGE,
        )
    token = tokens.from_authorization_header(text.strip()) or ""
    try:
        tokens.parse(token)
    except tokens.TokenFormatError as error:
        # An imported token (one taken over from elsewhere) has no format of ours to check.
        if error.reason == "bad_checksum" or tokens.looks_like_token(token) or not tokens.may_be_imported(token):
            raise CliError("invalid_token", f"{where} holds no tokengate token ({error.reason})", EXIT_USAGE) from None
    return token


def cmd_token_fetch(args: argparse.Namespace) -> int:
    from tokengate_core.deployment.routes import DELIVERY_ROUTE

    token = _read_token(args, os.environ)
    base = stage_base(args, os.environ)
    body = send(
        DELIVERY_ROUTE.method,
        f"{base}{DELIVERY_ROUTE.path}",
        base_url=base,
        timeout=args.timeout,
        headers={"authorization": token},
    )
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise CliError("bad_response", f"{base}{DELIVERY_ROUTE.path} answered without a token")
    print(json.dumps(body, indent=2, sort_keys=True) if args.output == "json" else body["token"])
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    token = commands.add_parser("token", help="a client's own calls, made with its token")
    token_actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = command(
        token_actions,
        "fetch",
        summary=f"print the client's current token (GET /token), presenting the token it holds (file or ${TOKEN_ENV})",
        parents=[p.connection],
        examples=[
            "tokengate token fetch --token-file device-42.token > device-42.new && mv device-42.new device-42.token",
            f"{TOKEN_ENV}=$(cat device-42.token) tokengate token fetch --output json",
        ],
    )
    fetch.add_argument(
        "--token-file", metavar="FILE", help=f"file holding the token ('-': standard input; default ${TOKEN_ENV})"
    )
    add_output(fetch, ("token", "json"), "'token' only the token, 'json' the whole answer")
    fetch.set_defaults(func=cmd_token_fetch)

"""``tokengate clients import``: a token callers already hold (the reference design's, read from
its secret or from a file) taken over as a client, so those callers keep working unchanged."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tokengate.cli.commands.clients.settings import (
    TOKEN_FETCH_HELP,
    add_new_client_options,
    body_fields,
    new_client_fields,
)
from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command
from tokengate.cli.output import client_lines, emit
from tokengate.cli.target import is_loopback


def _secret_token(args: argparse.Namespace, name: str) -> str:
    """The token in the reference design's secret (``{"token": ...}``): read with the AWS credential
    chain, or, against the local stack, from its embedded AWS (where such a secret can be made)."""
    import json
    import os

    from botocore.exceptions import BotoCoreError, ClientError

    from tokengate.cli.target import resolve_target, session
    from tokengate.local import location

    target = resolve_target(args, os.environ)
    local = args.credentials != "aws" and not args.profile and not args.stack_name and is_loopback(target.base_url)
    if local:
        import boto3

        from tokengate.local.state import read_aws_endpoint

        state_dir = location.state_dir(args.state_dir, os.environ)
        found = read_aws_endpoint(state_dir)
        if found is None:
            raise CliError("unreachable", f"no local stack running with state folder {state_dir}", EXIT_UNREACHABLE)
        endpoint, region = found
        client = boto3.session.Session().client(
            "secretsmanager",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the embedded AWS takes any pair
        )
    else:
        client = session(args, os.environ).client("secretsmanager", region_name=target.region)
    try:
        value = client.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise CliError("secret_unreadable", f"secret {name}: {code}") from None
    except BotoCoreError as error:
        raise CliError("secret_unreadable", f"secret {name}: {type(error).__name__}", EXIT_UNREACHABLE) from None
    try:
        token = json.loads(value)["token"]
    except (ValueError, KeyError, TypeError):
        token = None
    if not isinstance(token, str) or not token:
        raise CliError("invalid_secret", f'secret {name} is not {{"token": "..."}} (the reference design\'s shape)')
    return token


def cmd_import(args: argparse.Namespace) -> int:
    from tokengate.cli.commands.leaks import read_tokens

    if args.from_secret:
        token = _secret_token(args, args.from_secret)
    else:
        found = read_tokens(args.token_file)
        if len(found) != 1:
            problem = f"{args.token_file} must hold exactly one token (it holds {len(found)})"
            raise CliError("usage", problem, EXIT_USAGE)
        token = found[0][1]
    body: dict[str, Any] = {"tenant": args.tenant, "client_name": args.name, "token": token}
    if args.allow_weak:
        body["allow_weak"] = True
    body.update(new_client_fields(args))
    body.update(body_fields(args, ("ttl_seconds", "rotation_period_days", "grace_seconds", "token_fetch")))
    imported = admin_client(args).call("POST", "/admin/imports", body)
    for warning in imported.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    client = imported["client"]
    notes = [
        f"{imported.get('notice', '')}; callers holding the token keep working then",
        "`clients rotate` gives the client a tokengate token (the imported one stays valid for its grace window)",
    ]
    emit(args, imported, lambda: "\n".join(["imported", *client_lines(client), *notes]))
    return 0


def register_import(actions: Subcommands, p: Parents) -> None:
    imports = command(
        actions,
        "import",
        summary="take over a token callers already hold (the reference design's) as a client",
        description="Make a token that callers already hold a client of the tenant: those callers keep "
        "working unchanged, with the client's scopes, expiry, disable, revoke and events; only the token's "
        "SHA-256 is kept. A short or low-entropy token is refused unless --allow-weak. The client's first "
        "rotation gives it a tokengate token, the imported one valid for its grace window.",
        parents=[p.connection, p.output, p.tenant],
        examples=[
            "tokengate clients import --tenant acme --name reference-callers --from-secret AuthorizationToken",
            "tokengate clients import -t acme -n legacy --token-file reference.token --grace-seconds 600 --token-fetch",
        ],
    )
    imports.add_argument("--name", "-n", required=True, help="client name, unique in the tenant")
    source = imports.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-secret",
        metavar="SECRET",
        help='a Secrets Manager secret holding {"token": ...}, e.g. AuthorizationToken (read with your AWS '
        "credentials; against the local stack, from its embedded AWS)",
    )
    source.add_argument("--token-file", metavar="FILE", help="a file holding the token ('-': standard input)")
    imports.add_argument("--allow-weak", action="store_true", help="import a short or low-entropy token anyway")
    add_new_client_options(imports, grace_help="how long the replaced token stays valid (default 1 day)")
    imports.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    imports.set_defaults(func=cmd_import)

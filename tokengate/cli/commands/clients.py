"""``tokengate clients ...``: a tenant's clients through the admin API."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient, admin_client
from tokengate.cli.options import Parents, Subcommands, non_negative_int
from tokengate.cli.output import client_lines, emit, emit_issued, table, when

TOKEN_FETCH_HELP = (
    "let the client fetch its current token at GET /token with the token it holds "
    "(how a rotated token reaches a client with no IAM identity)"
)


def _clients_path(tenant: str, client: str | None = None, action: str | None = None) -> str:
    path = f"/admin/tenants/{quote(tenant, safe='')}/clients"
    if client is not None:
        path += f"/{quote(client, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


def _all_clients(api: AdminClient, tenant: str, *, status: str | None = None, limit: int = 100) -> list[Any]:
    """Every client of a tenant (revoked ones too, unless ``status`` says otherwise), page by page."""
    items: list[Any] = []
    next_token: str | None = None
    for _ in range(10_000):
        query = {"limit": str(limit)}
        if status:
            query["status"] = status
        if next_token:
            query["next_token"] = next_token
        page = api.call("GET", _clients_path(tenant), query=query)
        items += page.get("items", [])
        next_token = page.get("next_token")
        if not next_token:
            break
    return items


def _client_id(api: AdminClient, tenant: str, value: str) -> str:
    """A client id as given, or the id of the tenant's client of that name. Ids are random, so a
    name is looked up in the tenant's list (revoked clients included: they can be restored)."""
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core import tokens
    from tokengate_core.models import CLIENT_NAME_PATTERN

    if tokens.is_key_id(value):
        return value
    if not re.match(CLIENT_NAME_PATTERN, value):
        raise CliError("usage", f"{value!r} is neither a client id nor a client name", EXIT_USAGE)
    found = [c["client_id"] for c in _all_clients(api, tenant) if c.get("client_name") == value]
    if not found:
        raise CliError("not_found", "client not found")
    if len(found) > 1:  # names are unique per tenant: only a broken name table could allow this
        raise CliError("conflict", f"{len(found)} clients are named {value!r}: give a client id ({', '.join(found)})")
    return str(found[0])


def _body_fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_issue(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"client_name": args.name}
    if args.scope:
        body["scopes"] = args.scope
    body.update(
        _body_fields(
            args, ("ttl_seconds", "expires_at", "rotation_period_days", "grace_seconds", "reader_arn", "token_fetch")
        )
    )
    issued = admin_client(args).call("POST", _clients_path(args.tenant), body)
    emit_issued(args, issued, "issued")
    return 0


def _secret_token(args: argparse.Namespace, name: str) -> str:
    """The token in the reference design's secret (``{"token": ...}``): read with the AWS credential
    chain, or, against the local stack, from its embedded AWS (where such a secret can be made)."""
    import json
    import os
    from pathlib import Path
    from urllib.parse import urlsplit

    from botocore.exceptions import BotoCoreError, ClientError

    from tokengate.cli.target import LOOPBACK, _session, default_endpoint

    url = args.endpoint or default_endpoint(os.environ)
    local = not args.stack_name and args.credentials != "aws" and urlsplit(url).hostname in LOOPBACK
    if local:
        import boto3

        from tokengate.local.state import read_aws_endpoint

        state_dir = Path(args.state_dir or os.environ.get("TOKENGATE_HOME", ".tokengate"))
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
        client = _session(args).client("secretsmanager")
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
            raise CliError(
                "usage", f"{args.token_file} must hold exactly one token (it holds {len(found)})", EXIT_USAGE
            )
        token = found[0][1]
    body: dict[str, Any] = {"tenant": args.tenant, "client_name": args.name, "token": token}
    if args.allow_weak:
        body["allow_weak"] = True
    if args.scope:
        body["scopes"] = args.scope
    body.update(
        _body_fields(args, ("ttl_seconds", "expires_at", "rotation_period_days", "grace_seconds", "token_fetch"))
    )
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


def cmd_list(args: argparse.Namespace) -> int:
    items = _all_clients(admin_client(args), args.tenant, status=args.status, limit=args.limit)

    def human() -> str:
        if not items:
            return f"no clients in tenant {args.tenant}"
        rows = [
            [
                c.get("client_id", ""),
                c.get("client_name", ""),
                c.get("status", ""),
                when(c.get("expires_at")),
                when(c.get("created_at")),
            ]
            for c in items
        ]
        return table(rows, ["CLIENT ID", "NAME", "STATUS", "EXPIRES", "CREATED"])

    emit(args, {"items": items}, human)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    api = admin_client(args)
    client = api.call("GET", _clients_path(args.tenant, _client_id(api, args.tenant, args.client)))
    emit(args, client, lambda: "\n".join(client_lines(client)))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.enabled is not None:
        body["enabled"] = args.enabled
    if args.scope:
        body["scopes"] = args.scope
    if args.no_expiry:
        body["expires_at"] = None
    elif args.expires_at is not None:
        body["expires_at"] = args.expires_at
    if args.no_rotation:
        body["rotation_period_days"] = None
    elif args.rotation_period_days is not None:
        body["rotation_period_days"] = args.rotation_period_days
    body.update(_body_fields(args, ("grace_seconds", "token_fetch")))
    if not body:
        raise CliError("usage", "nothing to update: give at least one option (see --help)", EXIT_USAGE)
    api = admin_client(args)
    client = api.call("PATCH", _clients_path(args.tenant, _client_id(api, args.tenant, args.client)), body)
    emit(args, client, lambda: "\n".join(["updated", *client_lines(client)]))
    return 0


def _simple_action(method: str, action: str | None, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        api = admin_client(args)
        client = api.call(method, _clients_path(args.tenant, _client_id(api, args.tenant, args.client), action))
        emit(args, client, lambda: "\n".join([verb, *client_lines(client)]))
        return 0

    return run


def cmd_rotate(args: argparse.Namespace) -> int:
    api = admin_client(args)
    issued = api.call("POST", _clients_path(args.tenant, _client_id(api, args.tenant, args.client), "rotate"))
    emit_issued(args, issued, "rotated")
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    clients = commands.add_parser("clients", help="issue, list, show, update, revoke, restore, rotate clients")
    actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")

    issue = actions.add_parser(
        "issue", parents=[p.connection, p.issued_output, p.tenant], help="issue a client (its token is shown once)"
    )
    issue.add_argument("--name", "-n", required=True, help="client name, unique in the tenant")
    issue.add_argument("--scope", action="append", help="'*' or '<METHOD|ANY> <path>' (repeatable; default '*')")
    expiry = issue.add_mutually_exclusive_group()
    expiry.add_argument("--ttl-seconds", type=non_negative_int, help="expire this many seconds from now")
    expiry.add_argument("--expires-at", help="expire at this ISO 8601 time (with zone)")
    issue.add_argument("--rotation-period-days", type=non_negative_int, help="rotate automatically every N days")
    issue.add_argument("--grace-seconds", type=non_negative_int, help="how long a rotated-out token stays valid")
    issue.add_argument("--reader-arn", help="IAM principal that may read this client's own secret")
    issue.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    issue.set_defaults(func=cmd_issue)

    listing = actions.add_parser("list", parents=[p.connection, p.output, p.tenant], help="list a tenant's clients")
    listing.add_argument("--status", choices=["active", "disabled", "expired", "revoked"])
    listing.add_argument("--limit", type=int, default=50, help="page size (all pages are read)")
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", parents=[p.connection, p.output, p.tenant, p.client], help="show one client")
    show.set_defaults(func=cmd_show)

    update = actions.add_parser("update", parents=[p.connection, p.output, p.tenant, p.client], help="change a client")
    enabled = update.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_const", const=False)
    update.add_argument("--scope", action="append", help="replace the scopes (repeatable)")
    update_expiry = update.add_mutually_exclusive_group()
    update_expiry.add_argument("--expires-at", help="new expiry (ISO 8601 with zone)")
    update_expiry.add_argument("--no-expiry", action="store_true", help="remove the expiry")
    update_rotation = update.add_mutually_exclusive_group()
    update_rotation.add_argument("--rotation-period-days", type=non_negative_int)
    update_rotation.add_argument("--no-rotation", action="store_true", help="stop automatic rotation")
    update.add_argument("--grace-seconds", type=non_negative_int)
    update.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    update.set_defaults(func=cmd_update)

    for name, method, action, verb, text in (
        ("revoke", "DELETE", None, "revoked", "revoke a client (restorable during the recovery window)"),
        ("restore", "POST", "restore", "restored", "restore a revoked client"),
    ):
        sub = actions.add_parser(name, parents=[p.connection, p.output, p.tenant, p.client], help=text)
        sub.set_defaults(func=_simple_action(method, action, verb))

    rotate = actions.add_parser(
        "rotate",
        parents=[p.connection, p.issued_output, p.tenant, p.client],
        help="rotate a token (new one shown once)",
    )
    rotate.set_defaults(func=cmd_rotate)

    imports = actions.add_parser(
        "import",
        parents=[p.connection, p.output, p.tenant],
        help="take over a token callers already hold (the reference design's) as a client",
        description="Make a token that callers already hold a client of the tenant: those callers keep "
        "working unchanged, with the client's scopes, expiry, disable, revoke and events; only the "
        "token's SHA-256 is kept. A short or low-entropy token is refused unless --allow-weak. The "
        "client's first rotation gives it a tokengate token, the imported one valid for its grace window.",
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
    imports.add_argument("--scope", action="append", help="'*' or '<METHOD|ANY> <path>' (repeatable; default '*')")
    import_expiry = imports.add_mutually_exclusive_group()
    import_expiry.add_argument("--ttl-seconds", type=non_negative_int, help="expire this many seconds from now")
    import_expiry.add_argument("--expires-at", help="expire at this ISO 8601 time (with zone)")
    imports.add_argument("--rotation-period-days", type=non_negative_int, help="rotate automatically every N days")
    imports.add_argument("--grace-seconds", type=non_negative_int, help="how long the replaced token stays valid")
    imports.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    imports.set_defaults(func=cmd_import)

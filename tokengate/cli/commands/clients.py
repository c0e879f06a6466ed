"""``tokengate clients ...``: a tenant's clients through the admin API."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient, admin_client
from tokengate.cli.options import Parents, Subcommands, command, non_negative_int, positive_int, timestamp
from tokengate.cli.output import client_lines, emit, emit_issued, table, when

#: Clients per request when --page-size is not given (the CLI's choice; the API caps it).
DEFAULT_PAGE_SIZE = 50

TOKEN_FETCH_HELP = (
    "let the client fetch its current token at GET /token with the token it holds "
    "(how a rotated token reaches a client with no IAM identity)"
)


def _statuses() -> tuple[str, ...]:
    from tokengate_core.api import Status

    return get_args(Status)


def _clients_path(tenant: str, client: str | None = None, action: str | None = None) -> str:
    path = f"/admin/tenants/{quote(tenant, safe='')}/clients"
    if client is not None:
        path += f"/{quote(client, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


@dataclass
class Listing:
    items: list[Any]
    next_token: str | None


def list_clients(
    api: AdminClient,
    tenant: str,
    *,
    status: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_items: int | None = None,
    next_token: str | None = None,
) -> Listing:
    """Up to ``max_items`` clients (all of them when None) from ``next_token`` on, and where to go
    on from. No page is cut short: the last request asks for just what is missing, so the API's
    own next_token is the place to resume."""
    items: list[Any] = []
    while True:
        wanted = page_size if max_items is None else min(page_size, max_items - len(items))
        query = {"limit": str(wanted)}
        if status:
            query["status"] = status
        if next_token:
            query["next_token"] = next_token
        page = api.call("GET", _clients_path(tenant), query=query)
        items += page.get("items", [])
        next_token = page.get("next_token") or None
        if next_token is None or (max_items is not None and len(items) >= max_items):
            return Listing(items, next_token)


def _client_id(api: AdminClient, tenant: str, value: str) -> str:
    """A client id as given, or the id of the tenant's client of that name. Ids are random, so a
    name is looked up in the tenant's list (revoked clients included: they can be restored)."""
    from tokengate_core import tokens
    from tokengate_core.models import CLIENT_NAME_PATTERN

    if tokens.is_key_id(value):
        return value
    if not re.match(CLIENT_NAME_PATTERN, value):
        raise CliError("usage", f"{value!r} is neither a client id nor a client name", EXIT_USAGE)
    found = [c["client_id"] for c in list_clients(api, tenant).items if c.get("client_name") == value]
    if not found:
        raise CliError("not_found", "client not found")
    if len(found) > 1:  # names are unique per tenant: only a broken name table could allow this
        raise CliError("conflict", f"{len(found)} clients are named {value!r}: give a client id ({', '.join(found)})")
    return str(found[0])


def _expiry(args: argparse.Namespace, *, refuse_past: bool) -> str | None:
    """--expires-at as the API takes it (ISO 8601 with zone). A time already past makes a client
    that is expired from the start: refused for a new client, a warning for an existing one."""
    expires: datetime | None = args.expires_at
    if expires is None:
        return None
    if expires <= datetime.now(UTC):
        shown = expires.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        if refuse_past:
            raise CliError("usage", f"--expires-at {shown} is in the past: the client would never work", EXIT_USAGE)
        print(f"warning: --expires-at {shown} is in the past: the client stops working now", file=sys.stderr)
    return expires.isoformat()


def _body_fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_issue(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"client_name": args.name}
    if args.scope:
        body["scopes"] = args.scope
    expires_at = _expiry(args, refuse_past=True)
    if expires_at is not None:
        body["expires_at"] = expires_at
    optional = ("ttl_seconds", "rotation_period_days", "grace_seconds", "reader_arn", "token_fetch")
    body.update(_body_fields(args, optional))
    issued = admin_client(args).call("POST", _clients_path(args.tenant), body)
    emit_issued(args, issued, "issued")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    listing = list_clients(
        admin_client(args),
        args.tenant,
        status=args.status,
        page_size=args.page_size,
        max_items=args.max_items,
        next_token=args.next_token,
    )

    def human() -> str:
        if not listing.items:
            lines = [f"no clients in tenant {args.tenant}" + (f" with status {args.status}" if args.status else "")]
        else:
            rows = [
                [
                    c.get("client_id", ""),
                    c.get("client_name", ""),
                    c.get("status", ""),
                    when(c.get("expires_at")),
                    when(c.get("created_at")),
                ]
                for c in listing.items
            ]
            lines = [table(rows, ["CLIENT ID", "NAME", "STATUS", "EXPIRES", "CREATED"])]
        if listing.next_token:
            lines.append(f"more: add --next-token {listing.next_token}")
        return "\n".join(lines)

    result: dict[str, Any] = {"items": listing.items}
    if listing.next_token:
        result["next_token"] = listing.next_token
    emit(args, result, human)
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
        body["expires_at"] = _expiry(args, refuse_past=False)
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


EXPIRES_AT_HELP = "ISO 8601 date or time; without a zone it is UTC (2030-01-01 is midnight UTC)"


def register(commands: Subcommands, p: Parents) -> None:
    clients = commands.add_parser("clients", help="issue, list, show, update, revoke, restore, rotate clients")
    actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")
    named = [p.connection, p.output, p.tenant, p.client]

    issue = command(
        actions,
        "issue",
        summary="issue a client (its token is shown once)",
        parents=[p.connection, p.issued_output, p.tenant],
        examples=[
            "tokengate clients issue --tenant acme --name billing",
            'TOKEN=$(tokengate clients issue -t acme -n reports --scope "GET /reports/*" --output token)',
            "tokengate clients issue -t acme -n device-42 --expires-at 2030-01-01 --rotation-period-days 30 "
            "--token-fetch",
        ],
    )
    issue.add_argument("--name", "-n", required=True, help="client name, unique in the tenant")
    issue.add_argument(
        "--scope", action="append", help="'*' or '<METHOD|ANY> <path>', e.g. 'GET /invoke' (repeatable; default '*')"
    )
    expiry = issue.add_mutually_exclusive_group()
    expiry.add_argument("--ttl-seconds", type=positive_int, help="expire this many seconds from now")
    expiry.add_argument("--expires-at", type=timestamp, metavar="TIME", help=f"expire at TIME: {EXPIRES_AT_HELP}")
    issue.add_argument(
        "--rotation-period-days", type=positive_int, metavar="DAYS", help="rotate automatically every DAYS days"
    )
    issue.add_argument(
        "--grace-seconds", type=non_negative_int, help="how long a rotated-out token stays valid (default 1 day)"
    )
    issue.add_argument("--reader-arn", metavar="ARN", help="IAM principal that may read this client's own secret")
    issue.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    issue.set_defaults(func=cmd_issue)

    listing = command(
        actions,
        "list",
        summary="list a tenant's clients (all of them unless --max-items)",
        parents=[p.connection, p.output, p.tenant],
        examples=[
            "tokengate clients list --tenant acme",
            "tokengate clients list -t acme --status revoked --output json",
            "tokengate clients list -t acme --max-items 20   # then: ... --max-items 20 --next-token <token>",
        ],
    )
    listing.add_argument("--status", choices=_statuses(), help="only the clients in this state")
    listing.add_argument(
        "--max-items", type=positive_int, metavar="N", help="stop after N clients and print the token to go on from"
    )
    listing.add_argument(
        "--next-token",
        "--starting-token",
        dest="next_token",
        metavar="TOKEN",
        help="go on where an earlier --max-items listing stopped",
    )
    listing.add_argument(
        "--page-size",
        "--limit",
        dest="page_size",
        type=positive_int,
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"clients per API request (default {DEFAULT_PAGE_SIZE}); changes only the number of requests",
    )
    listing.set_defaults(func=cmd_list)

    command(
        actions,
        "show",
        summary="show one client",
        parents=named,
        examples=["tokengate clients show --tenant acme billing", "tokengate clients show -t acme <client id> -o json"],
    ).set_defaults(func=cmd_show)

    update = command(
        actions,
        "update",
        summary="change a client",
        parents=named,
        examples=[
            "tokengate clients update --tenant acme billing --disable",
            "tokengate clients update -t acme billing --scope 'GET /invoke' --scope 'ANY /reports/*'",
            "tokengate clients update -t acme billing --expires-at 2030-06-30T18:00:00+02:00",
        ],
    )
    enabled = update.add_mutually_exclusive_group()
    enabled.add_argument(
        "--enable", dest="enabled", action="store_const", const=True, default=None, help="let the client in again"
    )
    enabled.add_argument(
        "--disable", dest="enabled", action="store_const", const=False, help="refuse its token until --enable"
    )
    update.add_argument("--scope", action="append", help="replace the scopes (repeatable)")
    update_expiry = update.add_mutually_exclusive_group()
    update_expiry.add_argument("--expires-at", type=timestamp, metavar="TIME", help=f"new expiry: {EXPIRES_AT_HELP}")
    update_expiry.add_argument("--no-expiry", action="store_true", help="remove the expiry")
    update_rotation = update.add_mutually_exclusive_group()
    update_rotation.add_argument(
        "--rotation-period-days", type=positive_int, metavar="DAYS", help="rotate automatically every DAYS days"
    )
    update_rotation.add_argument("--no-rotation", action="store_true", help="stop automatic rotation")
    update.add_argument("--grace-seconds", type=non_negative_int, help="how long a rotated-out token stays valid")
    update.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    update.set_defaults(func=cmd_update)

    for name, method, action, verb, text in (
        ("revoke", "DELETE", None, "revoked", "revoke a client (restorable during the recovery window)"),
        ("restore", "POST", "restore", "restored", "restore a revoked client"),
    ):
        command(
            actions, name, summary=text, parents=named, examples=[f"tokengate clients {name} --tenant acme billing"]
        ).set_defaults(func=_simple_action(method, action, verb))

    command(
        actions,
        "rotate",
        summary="rotate a client's token (the new one is shown once; the old one stays valid for the grace window)",
        parents=[p.connection, p.issued_output, p.tenant, p.client],
        examples=[
            "tokengate clients rotate --tenant acme billing",
            "NEW=$(tokengate clients rotate -t acme billing --output token)",
        ],
    ).set_defaults(func=cmd_rotate)

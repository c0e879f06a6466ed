"""``tokengate clients issue``, ``update``, ``revoke``, ``restore`` and ``rotate``: the commands
that change a client."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from tokengate.cli.commands.clients.lookup import client_id, clients_path
from tokengate.cli.commands.clients.settings import (
    EXPIRES_AT_HELP,
    POLICY_FIELDS,
    ROTATION_HELP,
    TOKEN_FETCH_HELP,
    add_new_client_options,
    add_policy_options,
    body_fields,
    expiry,
    new_client_fields,
)
from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command, non_negative_int, positive_int, timestamp
from tokengate.cli.output import client_lines, emit, emit_issued


def cmd_issue(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"client_name": args.name}
    body.update(new_client_fields(args))
    optional = ("ttl_seconds", "rotation_period_days", "grace_seconds", "reader_arn", "token_fetch", *POLICY_FIELDS)
    body.update(body_fields(args, optional))
    issued = admin_client(args).call("POST", clients_path(args.tenant), body)
    emit_issued(args, issued, "issued")
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
        body["expires_at"] = expiry(args, refuse_past=False)
    if args.no_rotation:
        body["rotation_period_days"] = None
    elif args.rotation_period_days is not None:
        body["rotation_period_days"] = args.rotation_period_days
    body.update(body_fields(args, ("grace_seconds", "token_fetch", "on_limit")))
    # Given (a value or its --no-... form) or not given at all: argparse keeps SUPPRESS for the latter.
    body.update({name: getattr(args, name) for name in POLICY_FIELDS[:3] if hasattr(args, name)})
    if not body:
        raise CliError("usage", "nothing to update: give at least one option (see --help)", EXIT_USAGE)
    api = admin_client(args)
    client = api.call("PATCH", clients_path(args.tenant, client_id(api, args.tenant, args.client)), body)
    emit(args, client, lambda: "\n".join(["updated", *client_lines(client)]))
    return 0


def _simple_action(method: str, action: str | None, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        api = admin_client(args)
        client = api.call(method, clients_path(args.tenant, client_id(api, args.tenant, args.client), action))
        emit(args, client, lambda: "\n".join([verb, *client_lines(client)]))
        return 0

    return run


def cmd_rotate(args: argparse.Namespace) -> int:
    api = admin_client(args)
    issued = api.call("POST", clients_path(args.tenant, client_id(api, args.tenant, args.client), "rotate"))
    emit_issued(args, issued, "rotated")
    return 0


def register_issue(actions: Subcommands, p: Parents) -> None:
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
            "tokengate clients issue -t acme -n partner --rate-limit 10/20 --quota 100000/month "
            "--allow-cidr 203.0.113.0/24 --on-limit tell_integration",
        ],
    )
    issue.add_argument("--name", "-n", required=True, help="client name, unique in the tenant")
    add_new_client_options(issue, grace_help="how long a rotated-out token stays valid (default 1 day)")
    issue.add_argument("--reader-arn", metavar="ARN", help="IAM principal that may read this client's own secret")
    issue.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    add_policy_options(issue, clearable=False)
    issue.set_defaults(func=cmd_issue)


def register_update(actions: Subcommands, p: Parents) -> None:
    update = command(
        actions,
        "update",
        summary="change a client",
        parents=[p.connection, p.output, p.tenant, p.client],
        examples=[
            "tokengate clients update --tenant acme billing --disable",
            "tokengate clients update -t acme billing --scope 'GET /invoke' --scope 'ANY /reports/*'",
            "tokengate clients update -t acme billing --expires-at 2030-06-30T18:00:00+02:00",
            "tokengate clients update -t acme partner --rate-limit 50/100 --no-quota",
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
    update_rotation.add_argument("--rotation-period-days", type=positive_int, metavar="DAYS", help=ROTATION_HELP)
    update_rotation.add_argument("--no-rotation", action="store_true", help="stop automatic rotation")
    update.add_argument("--grace-seconds", type=non_negative_int, help="how long a rotated-out token stays valid")
    update.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    add_policy_options(update, clearable=True)
    update.set_defaults(func=cmd_update)


def register_revoke(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "revoke",
        summary="revoke a client (restorable during the recovery window)",
        parents=[p.connection, p.output, p.tenant, p.client],
        examples=["tokengate clients revoke --tenant acme billing"],
    ).set_defaults(func=_simple_action("DELETE", None, "revoked"))


def register_restore(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "restore",
        summary="restore a revoked client",
        parents=[p.connection, p.output, p.tenant, p.client],
        examples=["tokengate clients restore --tenant acme billing"],
    ).set_defaults(func=_simple_action("POST", "restore", "restored"))


def register_rotate(actions: Subcommands, p: Parents) -> None:
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

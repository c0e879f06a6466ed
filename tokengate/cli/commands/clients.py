"""``tokengate clients ...``: a tenant's clients through the admin API."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote

from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient, admin_client
from tokengate.cli.options import Parents, Subcommands, command, non_negative_int, positive_int, timestamp
from tokengate.cli.output import client_lines, emit, emit_issued, table, when
from tokengate.cli.target import is_loopback

#: Clients per request when --page-size is not given (the CLI's choice; the API caps it).
DEFAULT_PAGE_SIZE = 50

TOKEN_FETCH_HELP = (
    "let the client fetch its current token at GET /token with the token it holds "
    "(how a rotated token reaches a client with no IAM identity)"
)
RATE_LIMIT_HELP = "RPS/BURST: RPS requests a second on average, BURST at once, e.g. 10/20"
QUOTA_HELP = "N/day or N/month: at most N allowed requests per calendar day or month (UTC), e.g. 10000/day"
ALLOW_CIDR_HELP = "a network the client may call from, e.g. 203.0.113.0/24 (repeatable; default anywhere)"
ON_LIMIT_HELP = (
    "what a limited request gets: deny (403 from the stage, the default) or tell_integration (it reaches "
    "the integration, which answers 429 with Retry-After)"
)
#: The body fields of a usage policy, as the CLI's options name their destinations.
POLICY_FIELDS = ("rate_limit", "quota", "allowed_cidrs", "on_limit")


def rate_limit(text: str) -> dict[str, Any]:
    """``RPS/BURST`` as the API's rate_limit; the API checks the ranges."""
    rps, slash, burst = text.partition("/")
    try:
        per_second, at_once = float(rps), int(burst)
    except ValueError:
        per_second, at_once = math.nan, 0
    if not slash or not math.isfinite(per_second):
        raise argparse.ArgumentTypeError(f"{text!r} is not RPS/BURST, e.g. 10/20")
    return {"requests_per_second": per_second, "burst": at_once}


def quota(text: str) -> dict[str, Any]:
    """``N/day`` or ``N/month`` as the API's quota; the API checks the range."""
    from tokengate_core.records.view import QUOTA_PERIODS

    limit, slash, period = text.partition("/")
    if not slash or period not in QUOTA_PERIODS or not limit.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not N/{' or N/'.join(QUOTA_PERIODS)}, e.g. 10000/day")
    return {"limit": int(limit), "period": period}


def _on_limit_choices() -> tuple[str, ...]:
    from tokengate_core.records.view import ON_LIMIT

    return ON_LIMIT


def _add_policy_options(parser: argparse.ArgumentParser, *, clearable: bool) -> None:
    """The usage policy's options. On update each can also be cleared (the API's null), and one not
    given at all stays out of the body (its default is SUPPRESS: absent, not None)."""
    default = argparse.SUPPRESS if clearable else None
    for name, flag, kind, metavar, text in (
        ("rate_limit", "--rate-limit", rate_limit, "RPS/BURST", RATE_LIMIT_HELP),
        ("quota", "--quota", quota, "N/PERIOD", QUOTA_HELP),
    ):
        group = parser.add_mutually_exclusive_group() if clearable else parser
        group.add_argument(flag, dest=name, type=kind, metavar=metavar, default=default, help=text)
        if clearable:
            group.add_argument(
                f"--no-{flag[2:]}",
                dest=name,
                action="store_const",
                const=None,
                default=default,
                help=f"remove the {flag[2:]}",
            )
    cidrs = parser.add_mutually_exclusive_group() if clearable else parser
    cidrs.add_argument(
        "--allow-cidr", dest="allowed_cidrs", action="append", metavar="CIDR", default=default, help=ALLOW_CIDR_HELP
    )
    if clearable:
        cidrs.add_argument(
            "--no-allowlist",
            dest="allowed_cidrs",
            action="store_const",
            const=None,
            default=default,
            help="remove the allowlist (calls from anywhere)",
        )
    parser.add_argument("--on-limit", choices=_on_limit_choices(), help=ON_LIMIT_HELP)


def _statuses() -> tuple[str, ...]:
    from tokengate_core.admin.api import Status

    return get_args(Status)


def _granularities() -> tuple[str, ...]:
    from tokengate_core.admin.api import UsageReport

    return get_args(UsageReport.model_fields["granularity"].annotation)


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
    """A client id as given, or the id of the tenant's client of that name: the API looks a name up
    in one read of its name table (revoked clients included: they can be restored), and the
    tenant's list is read only when that finds nothing."""
    from tokengate_core.records.model import CLIENT_NAME_PATTERN
    from tokengate_core.tokens import format as tokens

    if tokens.is_key_id(value):
        return value
    if not re.match(CLIENT_NAME_PATTERN, value):
        # A token given where a client goes must not be printed back.
        shown = "CLIENT" if tokens.is_secret_shaped(value) else repr(value)
        raise CliError("usage", f"{shown} is neither a client id nor a client name", EXIT_USAGE)
    page = api.call("GET", _clients_path(tenant), query={"name": value}).get("items", [])
    found = [c["client_id"] for c in page if c.get("client_name") == value]
    if not found:
        # An admin API older than name lookups ignores ``name`` (hence the filter above), and a
        # name recorded before the name table existed is only in the list: look there too.
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
    optional = ("ttl_seconds", "rotation_period_days", "grace_seconds", "reader_arn", "token_fetch", *POLICY_FIELDS)
    body.update(_body_fields(args, optional))
    issued = admin_client(args).call("POST", _clients_path(args.tenant), body)
    emit_issued(args, issued, "issued")
    return 0


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
    if args.scope:
        body["scopes"] = args.scope
    expires_at = _expiry(args, refuse_past=True)
    if expires_at is not None:
        body["expires_at"] = expires_at
    body.update(_body_fields(args, ("ttl_seconds", "rotation_period_days", "grace_seconds", "token_fetch")))
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
    body.update(_body_fields(args, ("grace_seconds", "token_fetch", "on_limit")))
    # Given (a value or its --no-... form) or not given at all: argparse keeps SUPPRESS for the latter.
    body.update({name: getattr(args, name) for name in POLICY_FIELDS[:3] if hasattr(args, name)})
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


def cmd_usage(args: argparse.Namespace) -> int:
    query = {"granularity": args.granularity}
    for name, value in (("from", args.start), ("to", args.end)):
        if value is not None:
            query[name] = value.isoformat()
    api = admin_client(args)
    client_id = _client_id(api, args.tenant, args.client)
    report = api.call("GET", _clients_path(args.tenant, client_id, "usage"), query=query)
    emit(args, report, lambda: usage_table(report))
    return 0


def usage_table(report: dict[str, Any]) -> str:
    """One row per hour or day with traffic: allowed, denied, and the denials by reason."""
    buckets = report.get("buckets") or []
    if not buckets:
        return f"no requests counted for {report.get('client_id')} in this range"
    rows = []
    allowed = denied = 0
    for bucket in buckets:
        reasons: dict[str, int] = bucket.get("denied") or {}
        allowed += bucket.get("allowed", 0)
        denied += sum(reasons.values())
        rows.append(
            [
                when(bucket.get("start")),
                str(bucket.get("allowed", 0)),
                str(sum(reasons.values())),
                ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "-",
            ]
        )
    rows.append(["total", str(allowed), str(denied), ""])
    return "\n".join([table(rows, ["START", "ALLOWED", "DENIED", "DENIED BY REASON"]), str(report.get("notice", ""))])


def cmd_rotate(args: argparse.Namespace) -> int:
    api = admin_client(args)
    issued = api.call("POST", _clients_path(args.tenant, _client_id(api, args.tenant, args.client), "rotate"))
    emit_issued(args, issued, "rotated")
    return 0


EXPIRES_AT_HELP = "ISO 8601 date or time; without a zone it is UTC (2030-01-01 is midnight UTC)"


def register(commands: Subcommands, p: Parents) -> None:
    clients = commands.add_parser(
        "clients", help="issue, list, show, update, revoke, restore, rotate clients; their usage"
    )
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
            "tokengate clients issue -t acme -n partner --rate-limit 10/20 --quota 100000/month "
            "--allow-cidr 203.0.113.0/24 --on-limit tell_integration",
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
    _add_policy_options(issue, clearable=False)
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
    update_rotation.add_argument(
        "--rotation-period-days", type=positive_int, metavar="DAYS", help="rotate automatically every DAYS days"
    )
    update_rotation.add_argument("--no-rotation", action="store_true", help="stop automatic rotation")
    update.add_argument("--grace-seconds", type=non_negative_int, help="how long a rotated-out token stays valid")
    update.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    _add_policy_options(update, clearable=True)
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

    usage = command(
        actions,
        "usage",
        summary="a client's allowed and denied requests per hour or day (clients with a usage policy)",
        parents=named,
        examples=[
            "tokengate clients usage --tenant acme partner",
            "tokengate clients usage -t acme partner --granularity day --from 2026-11-01 --output json",
        ],
    )
    usage.add_argument(
        "--granularity", choices=_granularities(), default="hour", help="one row per hour (default) or per day"
    )
    usage.add_argument(
        "--from",
        dest="start",
        type=timestamp,
        metavar="TIME",
        help=f"from TIME (default 24 hours, or 30 days, ago): {EXPIRES_AT_HELP}",
    )
    usage.add_argument("--to", dest="end", type=timestamp, metavar="TIME", help="until TIME (default now)")
    usage.set_defaults(func=cmd_usage)

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
    imports.add_argument(
        "--scope", action="append", help="'*' or '<METHOD|ANY> <path>', e.g. 'GET /invoke' (repeatable; default '*')"
    )
    import_expiry = imports.add_mutually_exclusive_group()
    import_expiry.add_argument("--ttl-seconds", type=positive_int, help="expire this many seconds from now")
    import_expiry.add_argument(
        "--expires-at", type=timestamp, metavar="TIME", help=f"expire at TIME: {EXPIRES_AT_HELP}"
    )
    imports.add_argument(
        "--rotation-period-days", type=positive_int, metavar="DAYS", help="rotate automatically every DAYS days"
    )
    imports.add_argument(
        "--grace-seconds", type=non_negative_int, help="how long the replaced token stays valid (default 1 day)"
    )
    imports.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
    imports.set_defaults(func=cmd_import)

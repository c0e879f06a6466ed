"""``tokengate clients list``, ``show`` and ``usage``: what the API holds about a tenant's clients,
read and never changed."""

from __future__ import annotations

import argparse
from typing import Any, get_args

from tokengate.cli.commands.clients.lookup import DEFAULT_PAGE_SIZE, client_id, clients_path, list_clients
from tokengate.cli.commands.clients.settings import EXPIRES_AT_HELP
from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command, positive_int, timestamp
from tokengate.cli.output import client_lines, emit, last_used, table, when


def _statuses() -> tuple[str, ...]:
    from tokengate_core.admin.api import Status

    return get_args(Status)


def _granularities() -> tuple[str, ...]:
    from tokengate_core.admin.api import UsageReport

    return get_args(UsageReport.model_fields["granularity"].annotation)


def cmd_list(args: argparse.Namespace) -> int:
    listing = list_clients(
        admin_client(args),
        args.tenant,
        status=args.status,
        unused_since=args.unused_since.isoformat() if args.unused_since else None,
        page_size=args.page_size,
        max_items=args.max_items,
        next_token=args.next_token,
    )

    if args.sort == "last-used":  # over every client read, not page by page as the API sorts
        oldest = "0000"
        listing.items.sort(key=lambda c: (c.get("last_used_at") or oldest, c.get("created_at") or oldest))

    def human() -> str:
        if not listing.items:
            lines = [
                f"no clients in tenant {args.tenant}"
                + (f" with status {args.status}" if args.status else "")
                + (f" unused since {args.unused_since.isoformat()}" if args.unused_since else "")
            ]
        else:
            rows = [
                [
                    c.get("client_id", ""),
                    c.get("client_name", ""),
                    c.get("status", ""),
                    when(c.get("expires_at")),
                    when(c.get("created_at")),
                    last_used(c),
                ]
                for c in listing.items
            ]
            lines = [table(rows, ["CLIENT ID", "NAME", "STATUS", "EXPIRES", "CREATED", "LAST USED"])]
        return "\n".join(lines)

    result: dict[str, Any] = {"items": listing.items}
    notes = []
    if listing.next_token:
        result["next_token"] = listing.next_token
        notes.append(f"more clients: add --next-token {listing.next_token}")
    emit(args, result, human, notes)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    api = admin_client(args)
    client = api.call("GET", clients_path(args.tenant, client_id(api, args.tenant, args.client)))
    emit(args, client, lambda: "\n".join(client_lines(client)))
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    query = {"granularity": args.granularity}
    for name, value in (("from", args.start), ("to", args.end)):
        if value is not None:
            query[name] = value.isoformat()
    api = admin_client(args)
    found = client_id(api, args.tenant, args.client)
    report = api.call("GET", clients_path(args.tenant, found, "usage"), query=query)
    emit(args, report, lambda: usage_table(report), [str(report["notice"])] if report.get("notice") else [])
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
    return table(rows, ["START", "ALLOWED", "DENIED", "DENIED BY REASON"])


def register_list(actions: Subcommands, p: Parents) -> None:
    listing = command(
        actions,
        "list",
        summary="list a tenant's clients (all of them unless --max-items)",
        parents=[p.connection, p.output, p.tenant],
        examples=[
            "tokengate clients list --tenant acme",
            "tokengate clients list -t acme --status revoked --output json",
            "tokengate clients list -t acme --unused-since 2026-10-01 --sort last-used",
            "tokengate clients list -t acme --max-items 20   # then: ... --max-items 20 --next-token <token>",
        ],
    )
    listing.add_argument("--status", choices=_statuses(), help="only the clients in this state")
    listing.add_argument(
        "--unused-since",
        type=timestamp,
        metavar="TIME",
        help=f"only the clients not used since TIME (never used ones too): {EXPIRES_AT_HELP}",
    )
    listing.add_argument(
        "--sort", choices=("last-used",), help="last-used: least recently used first (never used before all)"
    )
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


def register_show(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "show",
        summary="show one client",
        parents=[p.connection, p.output, p.tenant, p.client],
        examples=["tokengate clients show --tenant acme billing", "tokengate clients show -t acme <client id> -o json"],
    ).set_defaults(func=cmd_show)


def register_usage(actions: Subcommands, p: Parents) -> None:
    usage = command(
        actions,
        "usage",
        summary="a client's allowed and denied requests per hour or day (clients with a usage policy)",
        parents=[p.connection, p.output, p.tenant, p.client],
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

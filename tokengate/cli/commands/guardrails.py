"""``tokengate guardrails show|set``: a tenant's guardrails, the limits every client of the
tenant keeps, and the clients that break them.

``set`` changes only what its options name: it reads the guardrails, applies the options and
writes them back based on the version it read, so a concurrent change by another admin makes it
fail (409) rather than be overwritten.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from tokengate.cli.commands.clients.settings import ALLOW_CIDR_HELP, ON_LIMIT_HELP, QUOTA_HELP, RATE_LIMIT_HELP
from tokengate.cli.commands.clients.settings import quota as quota_type
from tokengate.cli.commands.clients.settings import rate_limit as rate_limit_type
from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command, positive_int
from tokengate.cli.output import emit, policy_lines, table, when
from tokengate_core.records.rules import ON_LIMIT

_LOOSENING = {"tenant_admins": "tenant admins", "deployment_admins": "deployment admins only"}


def guardrails_path(tenant: str) -> str:
    return f"/admin/tenants/{tenant}/guardrails"


def _days(value: Any) -> str:
    return "no limit" if value is None else f"{value} days"


def guardrail_lines(view: Mapping[str, Any]) -> list[str]:
    rails = view.get("guardrails") or {}
    version = view.get("version") or 0
    head = f"tenant {view.get('tenant')}: guardrails version {version}"
    if view.get("updated_at"):
        head += f", set {when(view['updated_at'])} by {view.get('updated_by') or '-'}"
    fields = [
        ("max lifetime", _days(rails.get("max_lifetime_days"))),
        ("max rotation period", _days(rails.get("max_rotation_period_days"))),
        ("allowed scopes", ", ".join(rails.get("allowed_scopes") or []) or "any"),
    ]
    policy = policy_lines(rails.get("default_usage_policy") or {})
    fields += [(f"default {name}", text) for name, text in policy] or [("default usage policy", "none")]
    fields.append(("loosened by", _LOOSENING.get(str(view.get("loosening")), str(view.get("loosening")))))
    width = max(len(k) for k, _ in fields)
    lines = [head, *(f"  {k.ljust(width)}  {v}" for k, v in fields), ""]
    violations = view.get("violations") or []
    partial = "" if view.get("violations_complete", True) else " (not every client examined)"
    if not violations:
        return [*lines, f"no live client breaks them{partial}"]
    rows = [[v.get("client_id", ""), v.get("client_name", ""), "; ".join(v.get("problems") or [])] for v in violations]
    lines.append(f"{len(violations)} client(s) break them{partial}; their next update must comply:")
    return [*lines, table(rows, ["CLIENT ID", "NAME", "PROBLEMS"])]


def cmd_show(args: argparse.Namespace) -> int:
    view = admin_client(args).call("GET", guardrails_path(args.tenant))
    emit(args, view, lambda: "\n".join(guardrail_lines(view)))
    return 0


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    """The fields the options set (None: the limit removed)."""
    changes: dict[str, Any] = {}
    for name in ("max_lifetime_days", "max_rotation_period_days", "allowed_scopes"):
        if hasattr(args, name):  # SUPPRESS: an option not given leaves the field as it is
            changes[name] = getattr(args, name)
    policy = {
        name: getattr(args, f"default_{name}")
        for name in ("rate_limit", "quota", "allowed_cidrs", "on_limit")
        if getattr(args, f"default_{name}") is not None
    }
    if args.no_default_usage_policy:
        if policy:
            raise CliError("usage", "--no-default-usage-policy excludes the --default-... options", EXIT_USAGE)
        changes["default_usage_policy"] = None
    elif policy:
        changes["default_usage_policy"] = policy
    return changes


def cmd_set(args: argparse.Namespace) -> int:
    changes = _changes(args)
    if not changes:
        raise CliError("usage", "nothing to set: give at least one option (see --help)", EXIT_USAGE)
    api = admin_client(args)
    current = api.call("GET", guardrails_path(args.tenant))
    body = {**(current.get("guardrails") or {}), **changes, "version": current.get("version") or 0}
    path = f"/admin/guardrails/{args.tenant}" if args.as_deployment_admin else guardrails_path(args.tenant)
    view = api.call("PUT", path, body)
    emit(args, view, lambda: "\n".join(["set", *guardrail_lines(view)]))
    return 0


def _limit(
    parser: argparse.ArgumentParser, flag: str, dest: str, *, kind: Any, metavar: str, text: str, repeat: bool = False
) -> None:
    """An option that sets a limit (a repeatable one: its values, a list), and its ``--no-...`` form
    that removes it; neither given, the field is left as it is (SUPPRESS: absent from ``args``)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        flag,
        dest=dest,
        type=kind,
        metavar=metavar,
        action="append" if repeat else "store",
        default=argparse.SUPPRESS,
        help=text,
    )
    none = f"--no-{flag[2:]}" + ("s" if repeat else "")
    group.add_argument(none, dest=dest, action="store_const", const=None, default=argparse.SUPPRESS, help="no limit")


def _register_set(actions: Subcommands, p: Parents) -> None:
    parser = command(
        actions,
        "set",
        summary="change a tenant's guardrails (only what the options name)",
        parents=[p.connection, p.output, p.tenant],
        examples=[
            "tokengate guardrails set --tenant acme --max-lifetime-days 90 --max-rotation-period-days 30",
            "tokengate guardrails set -t acme --allowed-scope 'GET /reports/**' --allowed-scope 'POST /reports/drafts'",
            "tokengate guardrails set -t acme --default-quota 100000/month --default-rate-limit 10/20",
            "tokengate guardrails set -t acme --no-max-lifetime-days --as-deployment-admin",
        ],
    )
    _limit(
        parser,
        "--max-lifetime-days",
        "max_lifetime_days",
        kind=positive_int,
        metavar="DAYS",
        text="every client expires at most DAYS days after it is issued or updated",
    )
    _limit(
        parser,
        "--max-rotation-period-days",
        "max_rotation_period_days",
        kind=positive_int,
        metavar="DAYS",
        text="every client rotates automatically at least every DAYS days",
    )
    _limit(
        parser,
        "--allowed-scope",
        "allowed_scopes",
        kind=str,
        metavar="PATTERN",
        text="a scope pattern clients may hold, e.g. 'GET /reports/**' (repeatable: the whole list)",
        repeat=True,
    )
    parser.add_argument("--default-rate-limit", type=rate_limit_type, metavar="RPS/BURST", help=RATE_LIMIT_HELP)
    parser.add_argument("--default-quota", type=quota_type, metavar="N/PERIOD", help=QUOTA_HELP)
    parser.add_argument(
        "--default-allow-cidr", dest="default_allowed_cidrs", action="append", metavar="CIDR", help=ALLOW_CIDR_HELP
    )
    parser.add_argument("--default-on-limit", choices=ON_LIMIT, help=ON_LIMIT_HELP)
    parser.add_argument(
        "--no-default-usage-policy", action="store_true", help="new clients get no usage policy unless given one"
    )
    parser.add_argument(
        "--as-deployment-admin",
        action="store_true",
        help="use the deployment admins' route (PUT /admin/guardrails/TENANT), which may loosen them",
    )
    parser.set_defaults(func=cmd_set)


def register(commands: Subcommands, p: Parents) -> None:
    guardrails = commands.add_parser("guardrails", help="a tenant's guardrails: limits every client keeps")
    actions = guardrails.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(
        actions,
        "show",
        summary="show a tenant's guardrails and the live clients that break them",
        parents=[p.connection, p.output, p.tenant],
        examples=["tokengate guardrails show --tenant acme", "tokengate guardrails show -t acme --output json"],
    ).set_defaults(func=cmd_show)
    _register_set(actions, p)

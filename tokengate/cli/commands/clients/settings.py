"""The options that set a client's scopes, lifetime and usage policy (``issue``, ``update``,
``import``), their argument types, and the body fields they make. The API checks every value; these
only give a mistyped option a usage error before any request."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.options import non_negative_int, positive_int, timestamp

TOKEN_FETCH_HELP = (
    "let the client fetch its current token at GET /token with the token it holds "
    "(how a rotated token reaches a client with no IAM identity)"
)
SCOPE_HELP = "'*' or '<METHOD|ANY> <path>', e.g. 'GET /invoke' (repeatable; default '*')"
EXPIRES_AT_HELP = "ISO 8601 date or time; without a zone it is UTC (2030-01-01 is midnight UTC)"
ROTATION_HELP = "rotate automatically every DAYS days"
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
        raise argparse.ArgumentTypeError("not RPS/BURST, e.g. 10/20")
    return {"requests_per_second": per_second, "burst": at_once}


def quota(text: str) -> dict[str, Any]:
    """``N/day`` or ``N/month`` as the API's quota; the API checks the range."""
    from tokengate_core.records.rules import QUOTA_PERIODS

    limit, slash, period = text.partition("/")
    if not slash or period not in QUOTA_PERIODS or not limit.isdigit():
        raise argparse.ArgumentTypeError(f"not N/{' or N/'.join(QUOTA_PERIODS)}, e.g. 10000/day")
    return {"limit": int(limit), "period": period}


def _on_limit_choices() -> tuple[str, ...]:
    from tokengate_core.records.rules import ON_LIMIT

    return ON_LIMIT


def add_policy_options(parser: argparse.ArgumentParser, *, clearable: bool) -> None:
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


def add_new_client_options(parser: argparse.ArgumentParser, *, grace_help: str) -> None:
    """What a new client (issued or imported) is given: its scopes, its expiry (a lifetime or a
    time), its rotation period and its grace window."""
    parser.add_argument("--scope", action="append", help=SCOPE_HELP)
    expiry = parser.add_mutually_exclusive_group()
    expiry.add_argument("--ttl-seconds", type=positive_int, help="expire this many seconds from now")
    expiry.add_argument("--expires-at", type=timestamp, metavar="TIME", help=f"expire at TIME: {EXPIRES_AT_HELP}")
    parser.add_argument("--rotation-period-days", type=positive_int, metavar="DAYS", help=ROTATION_HELP)
    parser.add_argument("--grace-seconds", type=non_negative_int, help=grace_help)


def new_client_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The scopes and expiry of a new client as the API takes them (none given: the API's defaults)."""
    body: dict[str, Any] = {}
    if args.scope:
        body["scopes"] = args.scope
    expires_at = expiry(args, refuse_past=True)
    if expires_at is not None:
        body["expires_at"] = expires_at
    return body


def expiry(args: argparse.Namespace, *, refuse_past: bool) -> str | None:
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


def body_fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}

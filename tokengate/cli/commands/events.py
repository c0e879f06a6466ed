"""``tokengate events tail``: the local stack's lifecycle events, as EventBridge delivers them.

The local stack appends every event its functions put on the bus to ``<state dir>/events.jsonl``;
this follows that file. A deployed stack's events are on its EventBridge bus: subscribe with a
rule (docs/deploy.md has one that e-mails them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.options import Parents, Subcommands, command, non_negative_int
from tokengate.local import location


def _line(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    who = f"{detail.get('tenant', '?')}/{detail.get('client_name', '?')} ({detail.get('client_id', '?')})"
    parts = [str(event.get("time", "")), str(event.get("detail-type", "")), who, f"by {detail.get('actor', '?')}"]
    if detail.get("changed"):
        parts.append(f"changed: {', '.join(detail['changed'])}")
    for name in ("imported", "subject", "expires_at", "previous_token_valid_until", "action", "url"):
        if detail.get(name):
            parts.append(f"{name}: {detail[name]}")
    if detail.get("threshold") is not None:  # Client Quota Threshold
        parts.append(
            f"quota {detail['threshold']}%: {detail.get('quota_used')} of {detail.get('quota_limit')}"
            f" in {detail.get('period')}"
        )
    if detail.get("stale_after_days") is not None:  # Client Stale
        parts.append(f"unused {detail['stale_after_days']} days (last used: {detail.get('last_used_at') or 'never'})")
    return "  ".join(parts)


def cmd_tail(args: argparse.Namespace) -> int:
    from tokengate.local.event_log import EVENTS_FILE, follow

    state_dir = location.state_dir(args.state_dir, os.environ)
    if not state_dir.is_dir():
        raise CliError("usage", f"no local stack state folder at {state_dir} (--state-dir)", EXIT_USAGE)
    wanted = set(args.detail_type or [])
    path = state_dir / EVENTS_FILE

    def skipped(number: int, problem: str) -> None:
        print(f"warning: {path}: line {number} skipped: {problem}", file=sys.stderr, flush=True)

    for event in follow(path, last=args.lines, keep_following=args.follow, on_bad_line=skipped):
        if wanted and event.get("detail-type") not in wanted:
            continue
        print(json.dumps(event, sort_keys=True) if args.output == "json" else _line(event), flush=True)
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    events = commands.add_parser("events", help="lifecycle events of the local stack")
    actions = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = command(
        actions,
        "tail",
        summary="print the local stack's latest lifecycle events and follow new ones",
        description="Print the last events from <state dir>/events.jsonl, then each new one as the local "
        "stack's functions publish it (Ctrl-C stops). Events name clients and actors, never a token.",
        parents=[p.connection, p.output],
        examples=[
            "tokengate events tail",
            "tokengate events tail --no-follow -n 100 --output json",
            "tokengate events tail --detail-type 'Token Leaked' --detail-type 'Client Revoked'",
        ],
    )
    tail.add_argument("--lines", "-n", type=non_negative_int, default=10, help="events to print first (default 10)")
    tail.add_argument(
        "--follow", action=argparse.BooleanOptionalAction, default=True, help="keep following (default: yes)"
    )
    tail.add_argument(
        "--detail-type", action="append", help="only this detail-type, e.g. 'Client Revoked' (repeatable)"
    )
    tail.set_defaults(func=cmd_tail)

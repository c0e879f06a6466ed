"""``tokengate keys ...``: the deployment's signing keys (the tags that make a token this
deployment's own)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command
from tokengate.cli.output import emit, table, when


def _keys_text(view: Mapping[str, Any]) -> str:
    rows = [
        [
            k.get("name", ""),
            when(k.get("added_at")) if k.get("added_at") else "with the stack",
            "yes" if k.get("signing") else "no",
        ]
        for k in view.get("keys", [])
    ]
    lines = [table(rows, ["KEY", "ADDED", "SIGNS NEW TOKENS"])]
    if view.get("legacy_key_ids"):
        lines.append(f"untagged tokens still accepted for {view['legacy_key_ids']} client(s) (see `tokengate migrate`)")
    return "\n".join(lines)


def cmd_keys_list(args: argparse.Namespace) -> int:
    view = admin_client(args).call("GET", "/admin/keys")
    emit(args, view, lambda: _keys_text(view))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from tokengate_core.tokens.keyring import REFRESH_SECONDS

    view = admin_client(args).call("POST", "/admin/keys/rotate")
    newest = (view.get("keys") or [{}])[-1]
    added = newest.get("added_at")
    since = ""
    if added:
        since = f" from {when((datetime.fromisoformat(added) + timedelta(seconds=REFRESH_SECONDS)).isoformat())}"
    note = (
        f"added signing key {newest.get('name')}: it signs new tokens{since}, once every authorizer has loaded it; "
        "the older keys keep verifying the tokens they signed"
    )
    emit(args, view, lambda: f"{note}\n\n{_keys_text(view)}")
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    keys = commands.add_parser("keys", help="the deployment's signing keys (token tags)")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(
        key_actions,
        "list",
        summary="list the signing keys (names and ages, never values)",
        parents=[p.connection, p.output],
        examples=["tokengate keys list", "tokengate keys list --stack-name TokenGate --output json"],
    ).set_defaults(func=cmd_keys_list)
    command(
        key_actions,
        "rotate",
        summary="add a signing key; the old ones keep verifying",
        parents=[p.connection, p.output],
        examples=["tokengate keys rotate", "tokengate keys rotate --stack-name TokenGate"],
    ).set_defaults(func=cmd_keys_rotate)

"""How answers are printed: aligned tables for people, the API's JSON for scripts, and a bare
token for ``TOKEN=$(...)``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

TOKEN_NOTICE = "shown once: store it now, it cannot be retrieved again"


def when(value: Any) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return str(value)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def client_lines(client: Mapping[str, Any]) -> list[str]:
    rotation = client.get("rotation") or {}
    fields = [
        ("client id", client.get("client_id")),
        ("tenant", client.get("tenant")),
        ("name", client.get("client_name")),
        ("status", client.get("status")),
        ("enabled", str(client.get("enabled")).lower()),
        # A revoked client's record is not readable, so its scopes are unknown: no line, not "-".
        *([("scopes", ", ".join(client["scopes"]) or "-")] if client.get("scopes") is not None else []),
        ("expires", when(client.get("expires_at"))),
        ("created", f"{when(client.get('created_at'))} by {client.get('created_by') or '-'}"),
        ("last used", last_used(client)),
    ]
    if client.get("updated_by"):
        fields.append(("updated", f"{when(client.get('updated_at'))} by {client.get('updated_by')}"))
    if rotation:
        period = rotation.get("period_days")
        fields.append(
            (
                "rotation",
                f"{'every ' + str(period) + ' days' if period else 'manual'}; "
                f"grace {rotation.get('grace_seconds')} s; last {when(client.get('rotated_at'))}",
            )
        )
        if rotation.get("previous_token_valid_until"):
            fields.append(("previous token", f"valid until {when(rotation['previous_token_valid_until'])}"))
    if client.get("reader_arn"):
        fields.append(("reader", client["reader_arn"]))
    if client.get("token_fetch") is not None:
        fields.append(("token fetch", "allowed (GET /token)" if client["token_fetch"] else "off"))
    fields += policy_lines(client)
    if client.get("revoked_at"):
        fields.append(("revoked", f"{when(client.get('revoked_at'))} by {client.get('revoked_by') or '-'}"))
    width = max(len(k) for k, _ in fields)
    return [f"{k.ljust(width)}  {v if v is not None else '-'}" for k, v in fields]


def last_used(client: Mapping[str, Any]) -> str:
    """When the client's token was last presented (to the hour), or ``never``."""
    return when(client["last_used_at"]) if client.get("last_used_at") else "never"


def policy_lines(client: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The client's usage policy, the parts it has."""
    fields = []
    rate = client.get("rate_limit")
    if rate:
        fields.append(("rate limit", f"{rate.get('requests_per_second'):g}/s, burst {rate.get('burst')}"))
    quota = client.get("quota")
    if quota:
        fields.append(("quota", f"{quota.get('limit')} a {quota.get('period')} (UTC)"))
    if client.get("allowed_cidrs"):
        fields.append(("allowed from", ", ".join(client["allowed_cidrs"])))
    if fields and client.get("on_limit"):
        answer = "429 from the integration" if client["on_limit"] == "tell_integration" else "403 from the stage"
        fields.append(("on limit", f"{client['on_limit']} ({answer})"))
    return fields


def emit(args: argparse.Namespace, data: Any, human: Callable[[], str], notes: Sequence[str] = ()) -> None:
    """The answer on stdout, as JSON or for people; for people, ``notes`` about it on stderr (JSON
    holds what they say), so a pipe gets the answer alone."""
    if args.output == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
        return
    print(human())
    sys.stdout.flush()  # the answer before the notes, also when both go to one terminal or file
    for text in notes:
        print(f"note: {text}", file=sys.stderr)


def emit_issued(args: argparse.Namespace, issued: Mapping[str, Any], verb: str) -> None:
    token = str(issued.get("token", ""))
    if args.output == "token":
        print(f"note: token {TOKEN_NOTICE}", file=sys.stderr)
        print(token)
        return
    client = issued.get("client") or {}

    def human() -> str:
        lines = [f"{verb} client {client.get('client_name')} (tenant {client.get('tenant')})", ""]
        lines += client_lines(client)
        lines += ["", f"token ({TOKEN_NOTICE}):", token]
        return "\n".join(lines)

    emit(args, issued, human)

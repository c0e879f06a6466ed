"""``tokengate migrate``: once after upgrading (untagged tokens, client names, the digest index)."""

from __future__ import annotations

import argparse

from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command
from tokengate.cli.output import emit


def cmd_migrate(args: argparse.Namespace) -> int:
    report = admin_client(args).call("POST", "/admin/migrate")

    def human() -> str:
        lines = [
            f"examined {report.get('clients')} client(s); recorded {report.get('names_claimed')} name(s) as taken",
            f"untagged tokens still accepted for {report.get('legacy_key_ids')} client(s), until each rotates",
            f"digest index: {report.get('index_built')} client(s) written, {report.get('index_revoked')} revoked"
            + (
                ""
                if report.get("index_complete")
                else "; not every client was reached: run it again, or the scheduled reconciliation builds the rest"
            ),
        ]
        conflicts = report.get("conflicts") or []
        if conflicts:
            lines.append(f"{len(conflicts)} client(s) whose name another client holds (rename or revoke them):")
            lines += [f"  {c}" for c in conflicts]
        return "\n".join(lines)

    emit(args, report, human)
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    command(
        commands,
        "migrate",
        summary="once after upgrading: record client names, keep untagged tokens working, build the digest index",
        parents=[p.connection, p.output],
        examples=["tokengate migrate", "tokengate migrate --stack-name TokenGate"],
    ).set_defaults(func=cmd_migrate)

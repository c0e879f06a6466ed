"""``tokengate leaks ...``: leaked tokens. ``report`` runs the same response as to GitHub's secret
scanning alerts for tokens found elsewhere; ``pattern`` prints what to enrol with GitHub."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, command
from tokengate.cli.output import emit, table

if TYPE_CHECKING:
    from tokengate_core.tokens.format import TokenFormat

#: Where `leaks pattern` reads the deployment's prefix when neither --prefix nor --stack-name is given.
PREFIX_ENV = "TOKENGATE_TOKEN_PREFIX"


def read_tokens(where: str) -> list[tuple[int, str]]:
    """(line number, token) for each token in a file (``-``: standard input): one per line, blank
    lines and ``#`` comments skipped. Never from the command line, which other users can read."""
    try:
        text = sys.stdin.read() if where == "-" else Path(where).read_text()
    except OSError as error:
        raise CliError("usage", f"cannot read {where}: {error.strerror or error}", EXIT_USAGE) from None
    found = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    return [(n, token) for n, token in found if token and not token.startswith("#")]


def cmd_report(args: argparse.Namespace) -> int:
    from tokengate_core.admin.api import MAX_REPORTED_TOKENS

    numbered = read_tokens(args.token_file)
    if not numbered:
        raise CliError("usage", f"{args.token_file} holds no token", EXIT_USAGE)
    api = admin_client(args)
    results: list[dict[str, Any]] = []
    for start in range(0, len(numbered), MAX_REPORTED_TOKENS):
        part = numbered[start : start + MAX_REPORTED_TOKENS]
        body = {"tokens": [token for _, token in part], "url": args.url, "source": args.source}
        answer = api.call("POST", "/admin/leaks", body)
        results += [{"line": n, **result} for (n, _), result in zip(part, answer["results"], strict=True)]
    acted = [r for r in results if r.get("state") in ("revoked", "disabled")]

    def human() -> str:
        rows = [
            [str(r["line"]), r["label"], r["state"], r.get("client_id") or "", r.get("tenant") or ""] for r in results
        ]
        summary = f"{len(results)} token(s) reported; {len(acted)} client(s) {_acted(acted)}"
        return table(rows, ["LINE", "LABEL", "STATE", "CLIENT ID", "TENANT"]) + f"\n{summary}"

    emit(args, {"results": results}, human)
    return 0


def _acted(acted: list[dict[str, Any]]) -> str:
    states = sorted({r["state"] for r in acted})
    return " and ".join(states) if states else "acted on"


def _stack_prefix(args: argparse.Namespace, outputs: Mapping[str, str] | None) -> str:
    from tokengate import use_infra_path
    from tokengate.cli.target import stack_outputs

    use_infra_path()
    from infra.outputs import TOKEN_PREFIX

    prefix = (outputs if outputs is not None else stack_outputs(args, os.environ).outputs).get(TOKEN_PREFIX)
    if not prefix:
        raise CliError("stack_not_found", f"stack {args.stack_name} has no {TOKEN_PREFIX} output", EXIT_USAGE)
    return prefix


def deployment_format(args: argparse.Namespace, outputs: Mapping[str, str] | None = None) -> TokenFormat:
    """The deployment's token format: ``--prefix``, else the stack's TokenPrefix output
    (``--stack-name``; ``outputs`` when the caller has read them already), else
    $TOKENGATE_TOKEN_PREFIX, else the default."""
    from tokengate_core.tokens import format as tokens

    prefix = getattr(args, "prefix", None) or (_stack_prefix(args, outputs) if args.stack_name else None)
    prefix = prefix or os.environ.get(PREFIX_ENV) or tokens.DEFAULT_PREFIX
    try:
        return tokens.token_format(prefix)
    except ValueError as error:
        raise CliError("usage", f"{prefix!r}: {error}", EXIT_USAGE) from None


def cmd_pattern(args: argparse.Namespace) -> int:
    fmt = deployment_format(args)
    pattern = fmt.scanner_pattern()
    emit(args, {"prefix": fmt.prefix, "pattern": pattern, "token_length": fmt.token_length}, lambda: pattern)
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    leaks = commands.add_parser("leaks", help="leaked tokens: report them, or the pattern to enrol with GitHub")
    actions = leaks.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = command(
        actions,
        "report",
        summary="revoke the clients of leaked tokens found elsewhere (as for GitHub's alerts)",
        description="Report tokens found leaked (a paste, a log, a laptop): each one that is a live token of "
        "this deployment gets its client revoked (or disabled, per the deployment's leak action), audited "
        "with --url and --source and reported as a Token Leaked event. Tokens that are not ours are "
        "left alone. The tokens are read from a file, never from the command line.",
        parents=[p.connection, p.output],
        examples=[
            "tokengate leaks report --token-file leaked.txt --url https://paste.example/abc --source paste",
            "grep -ho 'tg_[0-9a-z_A-Z]*' app.log | tokengate leaks report --token-file - --stack-name TokenGate",
        ],
    )
    report.add_argument("--token-file", required=True, metavar="FILE", help="one token per line ('-': standard input)")
    report.add_argument("--url", default="", help="where they were found")
    report.add_argument("--source", default="manual", help="what kind of place (default: manual)")
    report.set_defaults(func=cmd_report)
    pattern = command(
        actions,
        "pattern",
        summary="print the regular expression to enrol with GitHub's secret scanning",
        description="The regular expression that matches this deployment's tokens (its prefix), as a secret "
        "scanning partner submits it. The prefix: --prefix, else the deployed stack's TokenPrefix output "
        f"(--stack-name), else ${PREFIX_ENV}, else the default.",
        parents=[p.connection, p.output],
        examples=[
            "tokengate leaks pattern",
            "tokengate leaks pattern --stack-name TokenGate",
            "tokengate leaks pattern --prefix acme_",
        ],
    )
    pattern.add_argument("--prefix", help="the deployment's token prefix, e.g. acme_")
    pattern.set_defaults(func=cmd_pattern)

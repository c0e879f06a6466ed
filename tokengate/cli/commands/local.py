"""``tokengate local``: run the local stack, and drive the running one (``local rotate-due``)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from urllib.parse import urlsplit

from tokengate.cli.errors import EXIT_API_ERROR, EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient
from tokengate.cli.options import Parents, Subcommands, port
from tokengate.cli.output import emit, table, when
from tokengate.cli.target import LOOPBACK, env_port, resolve_target


def cmd_rotate_due(args: argparse.Namespace) -> int:
    from tokengate.local.control import ROTATE_DUE_PATH

    origin = _control_origin(args, "rotate-due")
    result = origin.call("POST", ROTATE_DUE_PATH, {"advance_days": args.advance})
    runs = result.get("rotations") or []

    def human() -> str:
        at = f"{when(result.get('clock'))} (now + {args.advance:g} days)" if args.advance else "now"
        if not runs:
            return f"no client is due for rotation at {at}"
        rows = [
            [r.get("client_id", ""), "rotated" if r.get("ok") else f"failed at {r.get('failed_step')}"] for r in runs
        ]
        return f"scheduled rotations due at {at}:\n" + table(rows, ["CLIENT ID", "RESULT"])

    emit(args, result, human)
    return 0 if all(r.get("ok") for r in runs) else EXIT_API_ERROR


def _control_origin(args: argparse.Namespace, what: str) -> AdminClient:
    target = resolve_target(args, os.environ)
    parts = urlsplit(target.base_url)
    if parts.hostname not in LOOPBACK:
        raise CliError("usage", f"{what} drives a local stack: give its loopback --endpoint", EXIT_USAGE)
    return AdminClient(dataclasses.replace(target, base_url=f"{parts.scheme}://{parts.netloc}"), args.timeout)


def cmd_sweep(args: argparse.Namespace) -> int:
    from tokengate.local.control import SWEEP_PATH

    report = _control_origin(args, "sweep").call("POST", SWEEP_PATH)

    def human() -> str:
        lines = [
            f"swept {report.get('clients', 0)} client(s): {report.get('expiring', 0)} expiring, "
            f"{report.get('grace_ending', 0)} grace window(s) ending (Client Expiring events), "
            f"{report.get('imported_removed', 0)} imported token(s) taken out of the keyring"
        ]
        if report.get("unreadable"):
            lines.append(f"unreadable: {', '.join(report['unreadable'])}")
        return "\n".join(lines)

    emit(args, report, human)
    return 0


def cmd_aws_endpoint(args: argparse.Namespace) -> int:
    from tokengate.local.state import read_aws_endpoint

    state_dir = Path(args.state_dir or os.environ.get("TOKENGATE_HOME", ".tokengate"))
    found = read_aws_endpoint(state_dir)
    if found is None:
        raise CliError("unreachable", f"no local stack running with state folder {state_dir}", EXIT_API_ERROR)
    print(found[0])
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from tokengate.local.server import LocalOptions, StartupError, serve

    options = LocalOptions(
        host=args.host,
        port=env_port(os.environ) if args.port is None else args.port,
        stage=args.stage,
        state_dir=Path(args.state_dir),
        region=args.region,
        authorizer_cache_ttl=args.authorizer_cache_ttl,
        rotation_check_interval=args.rotation_check_interval,
        sweep_interval=args.sweep_interval,
    )
    try:
        return serve(options, os.environ)
    except StartupError as error:
        raise CliError("local", str(error), EXIT_API_ERROR) from None


def register(commands: Subcommands, p: Parents) -> None:
    local = commands.add_parser("local", help="run the local stack (what `make run` starts)")
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    local.add_argument(
        "--port",
        type=port,
        help="port (default ${TOKENGATE_PORT:-8080}; 0 picks a free one)",
    )
    local.add_argument("--stage", default="dev", help="stage name (default dev)")
    local.add_argument(
        "--state-dir",
        default=os.environ.get("TOKENGATE_HOME", ".tokengate"),
        help="state folder (default ${TOKENGATE_HOME:-.tokengate})",
    )
    local.add_argument("--region", default="us-east-1", help="the local region (default us-east-1)")
    local.add_argument(
        "--authorizer-cache-ttl",
        type=float,
        default=0.0,
        help="API Gateway's authorizer result cache TTL in seconds (default 0: off)",
    )
    local.add_argument(
        "--rotation-check-interval",
        type=float,
        default=60.0,
        help="seconds between scheduled-rotation checks (default 60; 0 turns the timer off)",
    )
    local.add_argument(
        "--sweep-interval",
        type=float,
        default=86400.0,
        help="seconds between sweeps (Client Expiring events; default 86400, daily as deployed; 0: off)",
    )
    local.set_defaults(func=cmd_local)
    local_actions = local.add_subparsers(dest="local_action", metavar="ACTION")
    rotate_due = local_actions.add_parser(
        "rotate-due",
        parents=[p.connection, p.output],
        help="ask the running local stack to run its rotation scheduler now",
        description="Run the running local stack's rotation scheduler now, rotating every client due DAYS "
        "from now (the rotations themselves happen now: grace windows run on the real clock).",
    )
    rotate_due.add_argument(
        "--advance",
        type=float,
        default=0.0,
        metavar="DAYS",
        help="pick the clients due this many days from now (default 0; the stack checks the range)",
    )
    rotate_due.set_defaults(func=cmd_rotate_due)
    local_actions.add_parser(
        "sweep",
        parents=[p.connection, p.output],
        help="ask the running local stack to run its sweep now (Client Expiring events)",
    ).set_defaults(func=cmd_sweep)
    aws_endpoint = local_actions.add_parser(
        "aws-endpoint",
        help="print the running local stack's embedded AWS endpoint (to create secrets beside it)",
    )
    aws_endpoint.add_argument("--state-dir", help="local stack state folder (default: ${TOKENGATE_HOME:-.tokengate})")
    aws_endpoint.set_defaults(func=cmd_aws_endpoint)

"""``tokengate local``: run the local stack, and drive the running one (``local rotate-due``,
``local flush-usage``, ``local reclaim``, ``local sweep``, ``local aws-endpoint``)."""

from __future__ import annotations

import argparse
import dataclasses
import os
from urllib.parse import urlsplit

from tokengate.cli.errors import EXIT_API_ERROR, EXIT_USAGE, CliError
from tokengate.cli.http import AdminClient
from tokengate.cli.options import Parents, Parser, Subcommands, command, port
from tokengate.cli.output import emit, table, when
from tokengate.cli.target import is_loopback, resolve_target
from tokengate.local import location


def _local_control(args: argparse.Namespace, command: str) -> AdminClient:
    """The running local stack's controls, outside its stage (tokengate.local.control)."""
    target = resolve_target(args, os.environ)
    if not is_loopback(target.base_url):
        raise CliError("usage", f"{command} drives a local stack: give its loopback --endpoint", EXIT_USAGE)
    parts = urlsplit(target.base_url)
    return AdminClient(dataclasses.replace(target, base_url=f"{parts.scheme}://{parts.netloc}"), args.timeout)


def cmd_flush_usage(args: argparse.Namespace) -> int:
    from tokengate.local.control import FLUSH_USAGE_PATH

    result = _local_control(args, "flush-usage").call("POST", FLUSH_USAGE_PATH)
    emit(args, result, lambda: f"usage counts written by {result.get('containers', 0)} authorizer container(s)")
    return 0


def cmd_reclaim(args: argparse.Namespace) -> int:
    from tokengate.local.control import RECLAIM_PATH

    result = _local_control(args, "reclaim").call("POST", RECLAIM_PATH)
    emit(args, result, lambda: f"{result.get('containers', 0)} idle container(s) ended")
    return 0


def cmd_rotate_due(args: argparse.Namespace) -> int:
    from tokengate.local.control import ROTATE_DUE_PATH

    origin = _local_control(args, "rotate-due")
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from tokengate.local.control import SWEEP_PATH

    report = _local_control(args, "sweep").call("POST", SWEEP_PATH)

    def human() -> str:
        lines = [
            f"swept {report.get('clients', 0)} client(s): {report.get('expiring', 0)} expiring, "
            f"{report.get('grace_ending', 0)} grace window(s) ending (Client Expiring events), "
            f"{report.get('imported_removed', 0)} imported token(s) taken out of the keyring, "
            f"{report.get('stale', 0)} stale (Client Stale events), {report.get('stale_disabled', 0)} of them disabled"
        ]
        if report.get("unreadable"):
            lines.append(f"unreadable: {', '.join(report['unreadable'])}")
        return "\n".join(lines)

    emit(args, report, human)
    return 0


def cmd_aws_endpoint(args: argparse.Namespace) -> int:
    from tokengate.local.state import read_aws_endpoint

    state_dir = location.state_dir(args.state_dir, os.environ)
    found = read_aws_endpoint(state_dir)
    if found is None:
        raise CliError("unreachable", f"no local stack running with state folder {state_dir}", EXIT_API_ERROR)
    print(found[0])
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from tokengate.local.process import serve
    from tokengate.local.stack import LocalOptions, StartupError

    try:
        chosen_port = location.env_port(os.environ) if args.port is None else args.port
    except ValueError as error:
        raise CliError("invalid_configuration", str(error), EXIT_USAGE) from None
    options = LocalOptions(
        host=args.host,
        port=chosen_port,
        stage=args.stage,
        state_dir=location.state_dir(args.state_dir, os.environ),
        region=args.region or location.DEFAULT_REGION,
        authorizer_cache_ttl=args.authorizer_cache_ttl,
        rotation_check_interval=args.rotation_check_interval,
        sweep_interval=args.sweep_interval,
        **({} if args.reconcile_interval is None else {"reconcile_interval": args.reconcile_interval}),
        container_idle_seconds=args.container_idle_seconds,
    )
    try:
        return serve(options, os.environ)
    except StartupError as error:
        raise CliError("local", str(error), EXIT_API_ERROR) from None


def register(commands: Subcommands, p: Parents) -> None:
    local = _register_run(commands)
    actions = local.add_subparsers(dest="local_action", metavar="ACTION")
    for add in (
        _register_rotate_due,
        _register_flush_usage,
        _register_reclaim,
        _register_sweep,
        _register_aws_endpoint,
    ):
        add(actions, p)


def _register_run(commands: Subcommands) -> Parser:
    """``tokengate local`` itself, which runs the stack; the parser the other ``local`` commands hang from."""
    local = command(
        commands,
        "local",
        summary="run the local stack (what `make run` starts)",
        description="Run the whole API on loopback: the handlers of services/ behind an emulated HTTP API "
        "stage, with an embedded Secrets Manager and DynamoDB, state kept in the state folder.",
        examples=[
            "tokengate local",
            "TOKENGATE_PORT=9000 tokengate local --state-dir /tmp/tg-state",
            "tokengate local rotate-due --advance 30",
            "TOKENGATE_USAGE_CONTROL=false tokengate local --authorizer-cache-ttl 5",
        ],
    )
    local.add_argument(
        "--host", default=location.HOST, help=f"address to listen on (default {location.HOST}; keep it loopback)"
    )
    local.add_argument(
        "--port",
        type=port,
        help=f"port (default ${location.PORT_ENV}, else {location.DEFAULT_PORT}; 0 picks a free one)",
    )
    local.add_argument(
        "--stage",
        default=location.DEFAULT_STAGE,
        help=f"stage name, the URL's first segment (default {location.DEFAULT_STAGE})",
    )
    local.add_argument(
        "--state-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help=f"state folder (default ${location.HOME_ENV}, else the nearest {location.STATE_DIR_NAME} folder here "
        "or above, else a new one here)",
    )
    local.add_argument(
        "--region",
        default=argparse.SUPPRESS,
        help=f"the local region, for SigV4 and ARNs (default {location.DEFAULT_REGION})",
    )
    local.add_argument(
        "--authorizer-cache-ttl",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="API Gateway's authorizer result cache TTL (default 0: off); only with TOKENGATE_USAGE_CONTROL=false, "
        "as in the deployed stack",
    )
    local.add_argument(
        "--rotation-check-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="seconds between scheduled-rotation checks (default 60; 0 turns the timer off)",
    )
    local.add_argument(
        "--sweep-interval",
        type=float,
        default=86400.0,
        metavar="SECONDS",
        help="seconds between sweeps (Client Expiring events; default 86400, daily as deployed; 0: off)",
    )
    local.add_argument(
        "--reconcile-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between reconciliations of the digest index, the first at the start "
        "(default: the deployed schedule's; 0: off)",
    )
    local.add_argument(
        "--container-idle-seconds",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="end a function container idle this long, as Lambda does (default 600; 0: never)",
    )
    local.set_defaults(func=cmd_local)
    return local


def _register_rotate_due(actions: Subcommands, p: Parents) -> None:
    rotate_due = command(
        actions,
        "rotate-due",
        summary="ask the running local stack to run its rotation scheduler now",
        description="Run the running local stack's rotation scheduler now, rotating every client due DAYS "
        "from now (the rotations themselves happen now: grace windows run on the real clock).",
        parents=[p.connection, p.output],
        examples=["tokengate local rotate-due", "tokengate local rotate-due --advance 30 --output json"],
    )
    rotate_due.add_argument(
        "--advance",
        type=float,
        default=0.0,
        metavar="DAYS",
        help="pick the clients due this many days from now (default 0; the stack checks the range)",
    )
    rotate_due.set_defaults(func=cmd_rotate_due)


def _register_flush_usage(actions: Subcommands, p: Parents) -> None:
    from tokengate_core.authorize.usage import FLUSH_SECONDS

    command(
        actions,
        "flush-usage",
        summary="ask the running local stack's authorizers to write their usage counts now",
        description="Make every idle authorizer container of the running local stack write the usage counts "
        "it holds, so `tokengate clients usage` shows the requests made so far (in AWS the counts are "
        f"written every {FLUSH_SECONDS:g} s per client, on its next request).",
        parents=[p.connection, p.output],
        examples=[
            "tokengate local flush-usage",
            "tokengate local flush-usage && tokengate clients usage -t acme partner",
        ],
    ).set_defaults(func=cmd_flush_usage)


def _register_reclaim(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "reclaim",
        summary="end the running local stack's idle containers now, as Lambda ends idle ones",
        description="End every idle function container of the running local stack, as Lambda ends execution "
        "environments that have been idle a while: each authorizer container gets SIGTERM first and writes "
        "the usage counts it holds. The next request starts a new container (a cold start).",
        parents=[p.connection, p.output],
        examples=[
            "tokengate local reclaim",
            "tokengate local reclaim && tokengate clients usage -t acme partner",
        ],
    ).set_defaults(func=cmd_reclaim)


def _register_sweep(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "sweep",
        summary="ask the running local stack to run its sweep now (Client Expiring and Client Stale events)",
        parents=[p.connection, p.output],
        examples=["tokengate local sweep", "tokengate local sweep --output json"],
    ).set_defaults(func=cmd_sweep)


def _register_aws_endpoint(actions: Subcommands, p: Parents) -> None:
    command(
        actions,
        "aws-endpoint",
        summary="print where the running local stack's embedded AWS answers (to make secrets beside it)",
        parents=[p.connection],
        examples=[
            "tokengate local aws-endpoint",
            "AWS_ENDPOINT_URL=$(tokengate local aws-endpoint) aws secretsmanager list-secrets",
        ],
    ).set_defaults(func=cmd_aws_endpoint)

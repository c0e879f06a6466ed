"""``tokengate console``: the operator console, a web app on loopback that calls the admin API with
this command line's target and credentials (see tokengate.console and docs/console.md)."""

from __future__ import annotations

import argparse
import os

from tokengate.cli.options import Parents, Subcommands, command, port


def cmd_console(args: argparse.Namespace) -> int:
    from tokengate.console.server import serve
    from tokengate.console.settings import resolve

    return serve(resolve(args, os.environ), args.port, browser=args.browser)


def register(commands: Subcommands, p: Parents) -> None:
    console = command(
        commands,
        "console",
        summary="open the operator console: tenants, clients, usage charts and events in the browser",
        description="Serve the operator console on 127.0.0.1 and print a one-time URL (opened in the browser "
        "where there is one). The page's calls go to the admin API of this command's target (the local stack, "
        "--endpoint or --stack-name), signed with the same credentials as every other command: the console can "
        "do what your identity may do, and nothing else. Ctrl-C stops it.",
        parents=[p.connection],
        examples=[
            "tokengate console",
            "tokengate console --stack-name TokenGate --profile ops",
            "tokengate console --port 8765 --no-browser",
        ],
    )
    console.add_argument("--port", type=port, default=0, help="port on 127.0.0.1 (default: any free port)")
    console.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="open the URL in a browser (default: yes)",
    )
    console.add_argument(
        "--events-log-group",
        metavar="NAME",
        help="CloudWatch Logs log group with the lifecycle events (default: the stack's LifecycleLogGroup output)",
    )
    console.set_defaults(func=cmd_console)

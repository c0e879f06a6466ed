"""``tokengate openapi``: the admin API's OpenAPI document, as the stage serves it."""

from __future__ import annotations

import argparse
import json

from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands


def cmd_openapi(args: argparse.Namespace) -> int:
    document = admin_client(args).call("GET", "/admin/openapi.json")
    print(json.dumps(document, indent=2))
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    openapi = commands.add_parser("openapi", parents=[p.connection], help="print the admin API's OpenAPI document")
    openapi.set_defaults(func=cmd_openapi)

"""``tokengate openapi``: the admin API's OpenAPI document, as the stage serves it."""

from __future__ import annotations

import argparse
import json

from tokengate.cli.http import admin_client
from tokengate.cli.options import Parents, Subcommands, add_output, command


def cmd_openapi(args: argparse.Namespace) -> int:
    document = admin_client(args).call("GET", "/admin/openapi.json")
    print(json.dumps(document, indent=2))
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    openapi = command(
        commands,
        "openapi",
        summary="print the admin API's OpenAPI document",
        parents=[p.connection],
        examples=["tokengate openapi > openapi.json", "tokengate openapi --stack-name TokenGate | head"],
    )
    add_output(openapi, ("json",), "the document as JSON")
    openapi.set_defaults(func=cmd_openapi)

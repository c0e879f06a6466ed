"""``tokengate capacity``: the capacity and cost plan for a workload (docs/scaling.md).

Each workload option is a field of :class:`~tokengate.capacity.model.Workload`, with its default
from there (the deployed stack's), so the command and the model cannot disagree.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, get_args

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.options import Parents, Subcommands, add_output, command

#: Workload fields offered as options, with their help; rps and clients are required.
WORKLOAD_OPTIONS: dict[str, str] = {
    "rps": "requests per second that carry a token",
    "clients": "active clients sharing those requests",
    "ttl": "the authorizer's in-memory cache TTL while it reads the change feed, s",
    "fallback_ttl": "its TTL without the feed, s (0.2's only one)",
    "negative_ttl": "its negative cache TTL, s",
    "max_stale": "its stale-if-error bound, s",
    "cache_max_entries": "its cache's size per container (LRU)",
    "api_cache_ttl": "API Gateway's authorizer result cache TTL, s (0: off)",
    "concurrency": "warm authorizer containers (default: estimated from the load)",
    "secrets": "secrets stored (default: --clients)",
    "routes_per_client": "distinct routes per client (API Gateway caches per token, route and method)",
    "unknown_rps": "req/s with tokens this deployment signed whose clients no longer exist",
    "unknown_ids": "distinct key ids among them (0: all different)",
    "hit_ms": "billed ms per cached decision",
    "miss_ms": "billed ms per 0.2 cache miss (a GetSecretValue)",
    "lookup_ms": "billed ms a DynamoDB read adds to a decision",
    "index_item_bytes": "one client's index item, bytes",
    "changes_per_client_month": "changes per client per month (issue, update, rotation, revoke...)",
    "memory_mb": "authorizer memory, MB",
    "architecture": "authorizer instruction set",
    "limited_clients": "active clients with a usage policy (rate limit, quota or allowlist)",
    "limited_rps": "their requests per second (default: their share of --rps)",
    "policy": "what their policies limit",
}
#: Workload fields whose values are a Literal's: offered as choices.
CHOICE_OPTIONS = ("architecture", "policy")


def _option_type(annotation: str) -> Any:
    return {"float": float, "int": int, "int | None": int, "float | None": float}.get(annotation, str)


def cmd_capacity(args: argparse.Namespace) -> int:
    from tokengate.capacity.model import Workload
    from tokengate.capacity.plan import plan
    from tokengate.capacity.render import text, to_json

    try:
        workload = Workload(**{name: getattr(args, name) for name in WORKLOAD_OPTIONS})
    except ValueError as error:
        raise CliError("usage", str(error), EXIT_USAGE) from None
    result = plan(workload)
    print(json.dumps(to_json(result), indent=2) if args.output == "json" else text(result))
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    from tokengate.capacity.model import Architecture, UsagePolicyKind, Workload

    parser = command(
        commands,
        "capacity",
        summary="request-path reads, monthly cost, partition limits, revocation bound, beside 0.2's model",
        description="Capacity plan for the authorizer with the digest index and change feed, beside 0.2's "
        "per-container Secrets Manager lookups at the same load; defaults are what the stack deploys. "
        "docs/scaling.md explains the model.",
        examples=[
            "tokengate capacity --rps 1000 --clients 10000",
            "tokengate capacity --rps 5000 --clients 100000 --changes-per-client-month 30",
            "tokengate capacity --rps 50 --clients 200 --architecture x86_64 --memory-mb 256 --output json",
            "tokengate capacity --rps 1000 --clients 10000 --limited-clients 500 --policy rate+quota",
        ],
    )
    for spec in dataclasses.fields(Workload):
        if spec.name not in WORKLOAD_OPTIONS:
            continue
        flag = "--" + spec.name.replace("_", "-")
        if spec.name in CHOICE_OPTIONS:
            parser.add_argument(
                flag,
                choices=get_args({"architecture": Architecture, "policy": UsagePolicyKind}[spec.name]),
                default=spec.default,
                help=f"{WORKLOAD_OPTIONS[spec.name]} (default {spec.default})",
            )
            continue
        required = spec.default is dataclasses.MISSING
        shown = "" if required or spec.default is None else f" (default {spec.default:g})"
        parser.add_argument(
            flag,
            type=_option_type(str(spec.type)),
            required=required,
            default=None if required else spec.default,
            metavar="N",
            help=WORKLOAD_OPTIONS[spec.name] + shown,
        )
    add_output(parser, ("table", "json"), "'table' for people, 'json' every figure")
    parser.set_defaults(func=cmd_capacity)

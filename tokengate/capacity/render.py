"""A capacity plan as people read it (two columns: without and with API Gateway's result cache)
and as scripts read it (JSON)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from tokengate.capacity.last_used import LastUsedCost, last_used_cost
from tokengate.capacity.model import WRITE_UNITS_PER_USAGE_WRITE, Plan, UsageControlCost, Variant
from tokengate_core.authorize.last_used import INTERVAL_SECONDS
from tokengate_core.authorize.usage import FLUSH_SECONDS, LEASE_WINDOW


def money(value: float) -> str:
    return f"${value:,.2f}"


def text(result: Plan) -> str:
    w = result.workload
    p = result.prices
    lines = [
        f"Workload: {w.rps:,.0f} req/s from {w.clients:,} active clients; in-memory TTL {w.ttl:g} s "
        f"(negative {w.negative_ttl:g} s, max stale {w.max_stale:g} s); API cache TTL {w.api_cache_ttl:g} s "
        f"when on; authorizer {w.memory_mb} MB {w.architecture}, "
        f"billed {w.hit_ms:g} ms per hit / {w.miss_ms:g} ms per miss.",
        "",
    ]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Callable[[Variant], str]) -> None:
        rows.append((label, [fn(v) for v in result.variants]))

    row("authorizer invocations/s", lambda v: f"{v.invocations_per_s:,.1f}")
    row("warm authorizer containers", lambda v: f"{v.containers:,}")
    row("GetSecretValue calls/s (model)", lambda v: f"{v.secrets_calls_per_s:,.2f}")
    row("  upper bound min(rps, C*clients/TTL)", lambda v: f"{v.secrets_calls_upper_bound:,.2f}")
    row(f"secrets ({money(p.secret_per_month)} each)", lambda v: money(v.bill.secrets))
    row("Secrets Manager API calls", lambda v: money(v.bill.secrets_api))
    row("Lambda requests", lambda v: money(v.bill.lambda_requests))
    row("Lambda duration", lambda v: money(v.bill.lambda_duration))
    row("= tokengate per month", lambda v: money(v.bill.authorizer_total))
    row("API Gateway HTTP API requests", lambda v: money(v.bill.http_api))
    row("revocation bound (s)", lambda v: f"{v.revocation_s:g}")
    row("  while Secrets Manager fails (s)", lambda v: f"{v.revocation_outage_s:g}")
    row(
        "req/s at GetSecretValue quota",
        lambda v: "never" if v.rps_at_secrets_quota is None else f"{v.rps_at_secrets_quota:,.0f}",
    )
    row("DynamoDB instead, per month", lambda v: money(v.dynamodb.dynamodb_monthly))
    if w.limited_clients:

        def usage(fn: Callable[[UsageControlCost], str]) -> Callable[[Variant], str]:
            return lambda v: "n/a (refused)" if v.usage is None else fn(v.usage)

        row(f"usage control ({w.limited_clients:,} clients, {w.policy})", lambda v: "")
        row("  DynamoDB writes/s (lease + counts)", usage(lambda u: f"{u.write_units_per_s:,.1f}"))
        row("  busiest item, writes/s", usage(lambda u: f"{u.hottest_item_writes_per_s:,.1f}"))
        row("  DynamoDB per month (writes, storage)", usage(lambda u: money(u.dynamodb_monthly)))
        row("  Lambda time waiting for it", usage(lambda u: money(u.lambda_monthly)))
        row("  per limited client per month", usage(lambda u: money(u.per_client_monthly)))
        row("  per container per month", usage(lambda u: money(u.per_container_monthly)))
    rows += last_used_rows(result)
    lines.append(f"{'':38}{'without API cache':>20}{'with API cache':>20}")
    lines += [f"{label:38}{a:>20}{b:>20}" for label, (a, b) in rows]
    d = result.variants[0].dynamodb
    lines += [
        "",
        f"Digests in DynamoDB on-demand ({'strongly' if d.consistent_reads else 'eventually'} consistent GetItem) "
        f"cost {money(d.saving_per_call_per_s)} less per month for each sustained GetSecretValue/s; the saving "
        f"reaches {money(d.threshold)}/month at {d.crossover_calls_per_s:,.1f} calls/s.",
        *(
            [
                f"Usage control: a lease of about {LEASE_WINDOW:g} s of a container's demand per limit, and a client's "
                f"counts every {FLUSH_SECONDS:g} s per container, each one conditional UpdateItem "
                f"({WRITE_UNITS_PER_USAGE_WRITE} write unit); no reads while no limit binds. API Gateway's cache must "
                "be off for it, so the 'with API cache' column refuses usage policies."
            ]
            if w.limited_clients
            else []
        ),
        f"Last use: one conditional UpdateItem per client per container per {INTERVAL_SECONDS / 3600:g} h at "
        "most (its first request there, then its first one after the interval); no write otherwise.",
        f"Prices: {p.as_of}. Quotas: GetSecretValue {result.quotas.get_secret_value_per_s:,.0f}/s, "
        f"HTTP API {result.quotas.http_api_rps:,.0f} req/s, Lambda concurrency {result.quotas.lambda_concurrency:,}.",
    ]
    lines += [f"WARNING: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def last_used(result: Plan, variant: Variant) -> LastUsedCost:
    return last_used_cost(result.workload, variant.invocations_per_s, variant.containers, result.prices)


def last_used_rows(result: Plan) -> list[tuple[str, list[str]]]:
    """The cost of recording clients' last use, per column (tokengate.capacity.last_used)."""
    costs = [last_used(result, v) for v in result.variants]
    return [
        ("last-use writes/s (bound)", [f"{c.writes_per_s:,.2f} ({c.bound_writes_per_s:,.2f})" for c in costs]),
        ("  last use per month", [money(c.monthly) for c in costs]),
    ]


def to_json(result: Plan) -> dict[str, Any]:
    out = asdict(result)
    for variant, data in zip(result.variants, out["variants"], strict=True):
        data["bill"]["authorizer_total"] = variant.bill.authorizer_total
        data["bill"]["total"] = variant.bill.total
        cost = last_used(result, variant)
        data["last_used"] = {**asdict(cost), "monthly": cost.monthly}
    return out

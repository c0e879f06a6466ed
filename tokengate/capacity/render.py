"""A capacity plan as people read it (two columns: without and with API Gateway's result cache)
and as scripts read it (JSON)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from tokengate.capacity.model import Plan, Variant


def money(value: float) -> str:
    return f"${value:,.2f}"


def text(result: Plan) -> str:
    w = result.workload
    p = result.prices
    cache = (
        f"API cache TTL {w.api_cache_ttl:g} s when on"
        if w.api_cache_ttl > 0
        else "API Gateway's result cache off (--api-cache-ttl prices it on)"
    )
    lines = [
        f"Workload: {w.rps:,.0f} req/s from {w.clients:,} active clients; in-memory TTL {w.ttl:g} s "
        f"(negative {w.negative_ttl:g} s, max stale {w.max_stale:g} s); {cache}; authorizer {w.memory_mb} MB "
        f"{w.architecture}, "
        f"billed {w.hit_ms:g} ms per hit / {w.miss_ms:g} ms per miss.",
        "",
    ]
    # With the API cache off (the stack's default) both variants are the same: print one.
    variants = result.variants if w.api_cache_ttl > 0 else result.variants[:1]
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Callable[[Variant], str]) -> None:
        rows.append((label, [fn(v) for v in variants]))

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
    lines.append(
        f"{'':38}" + "".join(f"{'with API cache' if v.api_cache else 'without API cache':>20}" for v in variants)
    )
    lines += [f"{label:38}" + "".join(f"{cell:>20}" for cell in cells) for label, cells in rows]
    d = result.variants[0].dynamodb
    lines += [
        "",
        f"Digests in DynamoDB on-demand ({'strongly' if d.consistent_reads else 'eventually'} consistent GetItem) "
        f"cost {money(d.saving_per_call_per_s)} less per month for each sustained GetSecretValue/s; the saving "
        f"reaches {money(d.threshold)}/month at {d.crossover_calls_per_s:,.1f} calls/s.",
        f"Prices: {p.as_of}. Quotas: GetSecretValue {result.quotas.get_secret_value_per_s:,.0f}/s, "
        f"HTTP API {result.quotas.http_api_rps:,.0f} req/s, Lambda concurrency {result.quotas.lambda_concurrency:,}.",
    ]
    lines += [f"WARNING: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def to_json(result: Plan) -> dict[str, Any]:
    out = asdict(result)
    for variant, data in zip(result.variants, out["variants"], strict=True):
        data["bill"]["authorizer_total"] = variant.bill.authorizer_total
        data["bill"]["total"] = variant.bill.total
    return out

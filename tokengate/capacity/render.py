"""A capacity plan as people read it (two columns: the digest index and change feed the stack
deploys, and 0.2's per-container lookups at the same load) and as scripts read it (JSON)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from tokengate.capacity.last_used import LastUsedCost, last_used_cost
from tokengate.capacity.model import PARTITION_READ_UNITS_PER_S, PARTITION_WRITE_UNITS_PER_S, UsageControlCost
from tokengate.capacity.plan import Before, Plan
from tokengate.capacity.shared import BACKEND_SHARE_TARGET, FLOOR_RATIO_TARGET, SharedCost
from tokengate_core.authorize.last_used import INTERVAL_SECONDS


def money(value: float) -> str:
    return f"${value:,.2f}"


NA = "-"


Rows = list[tuple[str, str, str]]


def usage_rows(result: Plan) -> Rows:
    """Usage control's lines (the shared design's column only: 0.2 priced it the same way)."""
    w, usage = result.workload, result.usage
    if not w.limited_clients:
        return []

    def used(fn: Callable[[UsageControlCost], str]) -> str:
        return "n/a (refused)" if usage is None else fn(usage)

    return [
        (f"usage control ({w.limited_clients:,} clients, {w.policy})", "", ""),
        ("  DynamoDB writes/s (lease + counts)", used(lambda u: f"{u.write_units_per_s:,.1f}"), NA),
        ("  busiest item, writes/s", used(lambda u: f"{u.hottest_item_writes_per_s:,.1f}"), NA),
        ("  DynamoDB per month (writes, storage)", used(lambda u: money(u.dynamodb_monthly)), NA),
        ("  Lambda time waiting for it", used(lambda u: money(u.lambda_monthly)), NA),
        ("  per limited client per month", used(lambda u: money(u.per_client_monthly)), NA),
    ]


def last_used(result: Plan) -> LastUsedCost:
    """Recording clients' last use (tokengate.capacity.last_used), in the shared design's containers."""
    s = result.shared
    return last_used_cost(result.workload, s.invocations_per_s, s.containers, result.prices)


def last_used_rows(result: Plan) -> Rows:
    """Its own lines: a write per client per container per interval, beside the request path's reads."""
    cost = last_used(result)
    return [
        (
            f"last use, one write per client, container and {INTERVAL_SECONDS / 3600:g} h",
            "",
            "",
        ),
        ("  UpdateItem/s (bound)", f"{cost.writes_per_s:,.2f} ({cost.bound_writes_per_s:,.2f})", NA),
        ("  per month", money(cost.monthly), NA),
        ("  / HTTP API", f"{cost.monthly / result.shared.http_api:.2%}", NA),
    ]


def footer(result: Plan) -> list[str]:
    s, p = result.shared, result.prices
    return [
        "",
        f"The feed's partition serves {s.max_feed_containers:,.0f} serving containers and "
        f"{s.max_changes_per_s:,.0f} changes/s; this load makes {s.changes_per_s:,.3f} changes/s.",
        f"Prices: {p.as_of}. Quotas: GetSecretValue {result.quotas.get_secret_value_per_s:,.0f}/s, "
        f"HTTP API {result.quotas.http_api_rps:,.0f} req/s, Lambda concurrency {result.quotas.lambda_concurrency:,}.",
    ]


def text(result: Plan) -> str:
    w, p, s, b = result.workload, result.prices, result.shared, result.before
    cache = f"API Gateway's result cache {w.api_cache_ttl:g} s" if w.api_cache_ttl else "API Gateway's result cache off"
    lines = [
        f"Workload: {w.rps:,.0f} req/s from {w.clients:,} active clients; in-memory TTL {w.ttl:g} s with the feed, "
        f"{w.fallback_ttl:g} s without it and in 0.2 (negative {w.negative_ttl:g} s, max stale {w.max_stale:g} s); "
        f"{cache}; authorizer {w.memory_mb} MB {w.architecture}, billed {w.hit_ms:g} ms per hit, "
        f"+{w.lookup_ms:g} ms per DynamoDB read, {w.miss_ms:g} ms per 0.2 miss.",
        "",
    ]
    rows: Rows = []

    def row(label: str, new: Callable[[SharedCost], str], old: Callable[[Before], str]) -> None:
        rows.append((label, new(s), old(b)))

    row("authorizer invocations/s", lambda s: f"{s.invocations_per_s:,.1f}", lambda b: f"{b.invocations_per_s:,.1f}")
    row("warm authorizer containers", lambda s: f"{s.containers:,}", lambda b: f"{b.containers:,}")
    row("request path, per second", lambda s: "", lambda b: "")
    row("  index GetItem (eventual)", lambda s: f"{s.index_reads_per_s:,.2f}", lambda b: NA)
    row("  index GetItem after a change", lambda s: f"{s.consistent_reads_per_s:,.3f}", lambda b: NA)
    row("  feed Query", lambda s: f"{s.feed_reads_per_s:,.2f}", lambda b: NA)
    row(
        "  GetSecretValue",
        lambda s: f"{s.keyring_reads_per_s:,.3f} (keyring)",
        lambda b: f"{b.secrets_calls_per_s:,.2f}",
    )
    row("request path, per month", lambda s: "", lambda b: "")
    row("  Lambda requests", lambda s: money(s.lambda_requests), lambda b: money(b.bill.lambda_requests))
    row("  Lambda duration", lambda s: money(s.lambda_duration), lambda b: money(b.bill.lambda_duration))
    row("  DynamoDB reads", lambda s: money(s.dynamodb_reads), lambda b: NA)
    row("  Secrets Manager calls", lambda s: money(s.secrets_api), lambda b: money(b.bill.secrets_api))
    row("  = request path", lambda s: money(s.request_path), lambda b: money(b.bill.request_path))
    row("  floor: per-request authorizer", lambda s: money(s.floor), lambda b: money(b.floor))
    row(
        f"  request path / floor (<= {FLOOR_RATIO_TARGET:g})",
        lambda s: f"{s.floor_ratio:.3f}",
        lambda b: f"{b.floor_ratio:.3f}",
    )
    row(
        f"  backend / HTTP API (<= {BACKEND_SHARE_TARGET:.0%})",
        lambda s: f"{s.backend_share:.2%}",
        lambda b: f"{b.backend_share:.2%}",
    )
    row("apart from requests, per month", lambda s: "", lambda b: "")
    row(
        f"  secrets at rest ({money(p.secret_per_month)} each)",
        lambda s: money(s.secrets),
        lambda b: money(b.bill.secrets),
    )
    row("  index and feed writes", lambda s: money(s.change_writes), lambda b: NA)
    row("  reconciliation", lambda s: money(s.reconciliation), lambda b: NA)
    row("  DynamoDB storage", lambda s: money(s.storage), lambda b: NA)
    row("= tokengate per month", lambda s: money(s.authorizer_total), lambda b: money(b.bill.authorizer_total))
    row("API Gateway HTTP API requests", lambda s: money(s.http_api), lambda b: money(b.bill.http_api))
    row("revocation bound (s)", lambda s: f"{s.revocation_s:g}", lambda b: f"{b.revocation_s:g}")
    row("  while the feed cannot be read (s)", lambda s: f"{s.revocation_feed_down_s:g}", lambda b: NA)
    row("  while the backend fails (s)", lambda s: f"{s.revocation_outage_s:g}", lambda b: f"{b.revocation_outage_s:g}")
    row(
        f"feed partition read units/s (of {PARTITION_READ_UNITS_PER_S:,})",
        lambda s: f"{s.feed_read_units_per_s:,.1f}",
        lambda b: NA,
    )
    row(
        f"feed partition write units/s (of {PARTITION_WRITE_UNITS_PER_S:,})",
        lambda s: f"{s.feed_write_units_per_s:,.3f}",
        lambda b: NA,
    )
    row(
        "req/s at GetSecretValue quota",
        lambda s: "never",
        lambda b: "never" if b.rps_at_secrets_quota is None else f"{b.rps_at_secrets_quota:,.0f}",
    )
    rows += usage_rows(result)
    rows += last_used_rows(result)
    lines.append(f"{'':42}{'index + feed':>20}{'0.2 (per container)':>22}")
    lines += [f"{label:42}{new:>20}{old:>22}" for label, new, old in rows]
    lines += footer(result)
    lines += [f"WARNING: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def to_json(result: Plan) -> dict[str, Any]:
    out = asdict(result)
    s, b = result.shared, result.before
    out["shared"].update(
        backend=s.backend,
        request_path=s.request_path,
        backend_share=s.backend_share,
        floor_ratio=s.floor_ratio,
        apart=s.apart,
        authorizer_total=s.authorizer_total,
    )
    out["before"]["bill"].update(request_path=b.bill.request_path, authorizer_total=b.bill.authorizer_total)
    out["before"].update(floor_ratio=b.floor_ratio, backend_share=b.backend_share)
    cost = last_used(result)
    out["last_used"] = {**asdict(cost), "monthly": cost.monthly}
    return out

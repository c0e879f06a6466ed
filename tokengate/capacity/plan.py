"""A capacity plan: the digest index and change feed (what the stack deploys) beside 0.2's
per-container model at the same workload, usage control's cost, and the warnings a workload earns."""

from __future__ import annotations

from dataclasses import dataclass, field

from tokengate.capacity.model import (
    PARTITION_READ_UNITS_PER_S,
    PARTITION_WRITE_UNITS_PER_S,
    PRICES,
    QUOTAS,
    Bill,
    Prices,
    Quotas,
    UsageControlCost,
    Workload,
    authorizer_invocations,
    containers,
    monthly_bill,
    revocation_bound,
    rps_at_quota,
    secrets_calls,
    usage_control_cost,
)
from tokengate.capacity.shared import SharedCost, shared_cost


@dataclass(frozen=True)
class Before:
    """0.2: every container asks Secrets Manager for each client once per (short) TTL."""

    invocations_per_s: float
    containers: int
    secrets_calls_per_s: float
    bill: Bill
    floor: float  # the same per-request authorizer floor as the shared design's
    revocation_s: float
    revocation_outage_s: float
    rps_at_secrets_quota: float | None

    @property
    def floor_ratio(self) -> float:
        return self.bill.request_path / self.floor if self.floor else 0.0

    @property
    def backend_share(self) -> float:
        return self.bill.secrets_api / self.bill.http_api if self.bill.http_api else 0.0


@dataclass(frozen=True)
class Plan:
    workload: Workload
    prices: Prices
    quotas: Quotas
    shared: SharedCost
    before: Before
    usage: UsageControlCost | None  # None with API Gateway's cache on: usage policies are refused there
    warnings: list[str] = field(default_factory=list)


def before(w: Workload, p: Prices, q: Quotas, floor: float) -> Before:
    inv = authorizer_invocations(w)
    n = containers(w, inv)
    revoke, outage = revocation_bound(w)
    return Before(
        invocations_per_s=inv,
        containers=n,
        secrets_calls_per_s=secrets_calls(w),
        bill=monthly_bill(w, p),
        floor=floor,
        revocation_s=revoke,
        revocation_outage_s=outage,
        rps_at_secrets_quota=rps_at_quota(w, q.get_secret_value_per_s),
    )


def plan(w: Workload, *, p: Prices = PRICES, q: Quotas = QUOTAS) -> Plan:
    shared = shared_cost(w, p)
    usage = None if w.api_cache_ttl > 0 else usage_control_cost(w, shared.containers, p)
    result = Plan(w, p, q, shared, before(w, p, q, shared.floor), usage)
    warn = result.warnings.append
    if shared.containers > shared.max_feed_containers:
        warn(
            f"{shared.containers:,} containers reading the feed need {shared.feed_read_units_per_s:,.0f} read units/s "
            f"on its one partition, past DynamoDB's {PARTITION_READ_UNITS_PER_S:,} per partition"
        )
    if shared.changes_per_s > shared.max_changes_per_s:
        warn(
            f"{shared.changes_per_s:,.0f} changes/s need {shared.feed_write_units_per_s:,.0f} write units/s on the "
            f"feed's one partition, past DynamoDB's {PARTITION_WRITE_UNITS_PER_S:,} per partition"
        )
    if shared.read_units_per_s > q.dynamodb_table_rru_per_s:
        warn(
            f"{shared.read_units_per_s:,.0f} read units/s exceed the table's default on-demand maximum of "
            f"{q.dynamodb_table_rru_per_s:,.0f} (adjustable)"
        )
    if w.clients > w.cache_max_entries:
        warn(
            f"{w.clients:,} clients exceed the authorizer's cache of {w.cache_max_entries:,} entries: each container "
            f"misses at least {1 - w.cache_max_entries / w.clients:.0%} of lookups (raise cache_max_entries)"
        )
    if shared.containers > q.lambda_concurrency:
        warn(f"{shared.containers:,} authorizer containers exceed the default {q.lambda_concurrency:,} concurrency")
    if usage is not None and usage.hottest_item_writes_per_s > PARTITION_WRITE_UNITS_PER_S:
        warn(
            f"usage control: {usage.hottest_item_writes_per_s:,.0f} writes/s on one client's bucket or quota counter "
            f"exceed DynamoDB's {PARTITION_WRITE_UNITS_PER_S:,} per partition: it would throttle (a rate limit then "
            f"fails open, a quota closed)"
        )
    if w.rps > q.http_api_rps:
        warn(f"{w.rps:,.0f} req/s exceeds API Gateway's default {q.http_api_rps:,.0f} req/s throttle")
    return result

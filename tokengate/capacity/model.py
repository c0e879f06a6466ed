"""The capacity model of the authorizer: Secrets Manager calls, monthly bill, quotas, revocation
bound, and what usage control adds in DynamoDB, as pure functions of a :class:`Workload`,
:class:`Prices` and :class:`Quotas` (so the tests check them against arithmetic done by hand). A
workload's defaults are what the stack deploys.

The cache model
---------------
Each warm authorizer container keeps its own cache. Take ``K`` cache keys (active clients times
containers), requests arriving at ``r`` per second spread evenly over them (Poisson), and an entry
that stays fresh for ``T`` seconds. After a fetch, a key's next fetch is the first request after
the entry expires: on average ``T + K / r`` seconds later. So the fetch rate is::

    calls/s = K / (T + K / r) = r * K / (r * T + K)        (1 / calls = 1 / r + T / K)

It never exceeds either term of the rule of thumb ``min(r, K / T)`` and tends to each of them at
the extremes: few requests per key (every request misses: ``r``) or many (each key is refetched
once per TTL: ``K / T``).

Usage control
-------------
A client with a usage policy costs DynamoDB writes, never one per request (tokengate_core.authorize.usage):
in each container its traffic reaches, a lease of about ``LEASE_WINDOW`` seconds of that
container's demand per limit (one conditional UpdateItem, at least one request's worth), and its
counts written at the first request ``FLUSH_SECONDS`` after the last write (one UpdateItem, the
renewal formula above with one key and ``T = FLUSH_SECONDS``). Every usage item is far under 1 KB,
so each write is one write request unit. The authorizer never reads: a refused conditional write
returns the counter with the refusal. Usage reports are the only reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

from tokengate import use_infra_path

use_infra_path()
from infra.settings import LAMBDA_ARCHITECTURE  # noqa: E402 - infra is on the path only now
from tokengate_core.authorize.settings import AuthorizerSettings  # noqa: E402
from tokengate_core.authorize.usage import FLUSH_SECONDS, LEASE_WINDOW, USAGE_RETENTION_DAYS, USAGE_SHARDS  # noqa: E402
from tokengate_core.deployment.functions import FUNCTIONS  # noqa: E402

SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
Architecture = Literal["arm64", "x86_64"]
#: The monthly saving (US dollars) that would pay for keeping digests in a second store.
DEFAULT_THRESHOLD = 100.0
#: The "with API cache" column's TTL. The stack keeps API Gateway's cache off while usage control
#: is on (its default), so there is no deployed TTL to take; this one is an example of what a stack
#: deployed with usageControl=false might choose.
API_CACHE_EXAMPLE_TTL = 300.0
#: Which limits a client's usage policy has; each of a rate limit and a quota takes its own leases.
UsagePolicyKind = Literal["rate", "quota", "rate+quota", "allowlist"]
LEASE_KINDS: dict[str, int] = {"rate": 1, "quota": 1, "rate+quota": 2, "allowlist": 0}
#: What one write of a usage item costs: every such item is far under 1 KB.
WRITE_UNITS_PER_USAGE_WRITE = 1
#: DynamoDB's write throughput per partition; one client's bucket shard or quota counter is one item.
PARTITION_WRITE_UNITS_PER_S = 1_000


@dataclass(frozen=True)
class Prices:
    """US East (N. Virginia), on-demand, without free tiers. Checked on the date below."""

    as_of: str = "2025-11 (us-east-1; AWS pricing pages for Secrets Manager, Lambda, API Gateway, DynamoDB)"
    secret_per_month: float = 0.40
    secrets_api_per_10k: float = 0.05
    lambda_per_million: float = 0.20
    lambda_gb_second_x86: float = 0.0000166667
    lambda_gb_second_arm: float = 0.0000133334

    def lambda_gb_second(self, architecture: Architecture) -> float:
        return self.lambda_gb_second_arm if architecture == "arm64" else self.lambda_gb_second_x86

    @property
    def per_call(self) -> float:
        """One GetSecretValue."""
        return self.secrets_api_per_10k / 10_000

    http_api_per_million: float = 1.00  # first 300 million a month
    http_api_per_million_above_300m: float = 0.90  # next 700 million (the bill beyond 1 billion is lower still)
    dynamodb_per_million_rru: float = 0.125  # on-demand, since the November 2024 price cut
    dynamodb_per_million_wru: float = 0.625
    dynamodb_gb_month: float = 0.25


@dataclass(frozen=True)
class Quotas:
    """Per account and Region (defaults)."""

    get_secret_value_per_s: float = 10_000  # not adjustable (combined with DescribeSecret in older docs)
    http_api_rps: float = 10_000  # account throttle across APIs, adjustable; burst 5,000
    lambda_concurrency: int = 1_000  # adjustable
    dynamodb_table_rru_per_s: float = 40_000  # on-demand table default maximum, adjustable


@dataclass(frozen=True)
class Workload:
    """A load on the authorizer. Every default is the deployed stack's: the authorizer's memory from
    the function table, its architecture and the API cache TTL from infra's settings, the cache
    TTLs from the authorizer's settings."""

    rps: float  # requests per second reaching API Gateway with a token
    clients: int  # active clients (each sends some of the traffic)
    ttl: float = AuthorizerSettings.default("fallback_ttl_seconds")  # the per-entry TTL without the feed
    negative_ttl: float = AuthorizerSettings.default("negative_cache_ttl_seconds")  # for unknown key ids
    max_stale: float = AuthorizerSettings.default("max_stale_seconds")  # answers while Secrets Manager fails
    api_cache_ttl: float = API_CACHE_EXAMPLE_TTL  # API Gateway's, in the "with API cache" column
    concurrency: int | None = None  # warm authorizer containers; None: Little's law estimate
    secrets: int | None = None  # secrets stored (default: clients)
    routes_per_client: int = 1  # distinct route keys per client (the API cache keys on token + route)
    unknown_rps: float = 0.0  # requests with tokens this deployment signed whose key ids no longer exist
    unknown_ids: int = 0  # distinct unknown key ids among them (0: every one different)
    hit_ms: float = 1.0  # billed duration of a cached decision (Lambda bills 1 ms increments)
    miss_ms: float = 25.0  # billed duration of a miss (one in-region GetSecretValue)
    memory_mb: int = FUNCTIONS["authorizer"].memory_mb
    architecture: Architecture = LAMBDA_ARCHITECTURE
    item_bytes: int = 400  # a digest record, for the DynamoDB comparison
    writes_per_client_month: float = 2.0  # issue/rotate/update writes, for the DynamoDB comparison
    limited_clients: int = 0  # active clients with a usage policy (rate limit, quota, allowlist)
    limited_rps: float | None = None  # their requests per second (default: their share of rps)
    policy: UsagePolicyKind = "rate"  # what their policies limit
    usage_item_bytes: int = 150  # one hourly usage-count item (key, a few counters, expiry)
    usage_call_ms: float = 5.0  # billed authorizer time per DynamoDB call (an in-region UpdateItem)

    def __post_init__(self) -> None:
        if self.rps < 0 or self.clients < 1 or self.ttl < 0 or self.negative_ttl < 0 or self.api_cache_ttl < 0:
            raise ValueError("rps, TTLs must be >= 0 and clients >= 1")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if not 0 <= self.limited_clients <= self.clients:
            raise ValueError("limited clients must be between 0 and clients")
        if self.limited_rps is not None and not 0 <= self.limited_rps <= self.rps:
            raise ValueError("limited rps must be between 0 and rps")

    @property
    def limited_request_rate(self) -> float:
        """Requests per second from clients with a usage policy."""
        if self.limited_rps is not None:
            return self.limited_rps
        return self.rps * self.limited_clients / self.clients


def refetch_rate(request_rate: float, keys: float, ttl: float) -> float:
    """Fetches per second for ``keys`` cache keys sharing ``request_rate`` evenly, each fresh for ``ttl``."""
    if request_rate <= 0 or keys <= 0:
        return 0.0
    return request_rate * keys / (request_rate * ttl + keys)


def upper_bound(request_rate: float, keys: float, ttl: float) -> float:
    """The rule of thumb: every request misses, or every key is refetched once per TTL."""
    return request_rate if ttl == 0 else min(request_rate, keys / ttl)


def authorizer_invocations(w: Workload, *, api_cache: bool) -> float:
    """Invocations per second: all requests, or one per (token, route) per API cache TTL.

    API Gateway's cache is modelled as one cache; it is in fact spread over its fleet, so real
    invocation counts are higher (this is the optimistic side)."""
    if not api_cache or w.api_cache_ttl == 0:
        return w.rps
    return refetch_rate(w.rps, w.clients * w.routes_per_client, w.api_cache_ttl)


def _valid_calls(w: Workload, invocations: float, n_containers: int, *, api_cache: bool) -> float:
    if api_cache and w.api_cache_ttl > 0 and w.ttl <= w.api_cache_ttl:
        return invocations  # each invocation comes after that container's entry has expired
    return refetch_rate(invocations, w.clients * n_containers, w.ttl)


def containers(w: Workload, invocations: float, *, api_cache: bool = False) -> int:
    """Warm containers: the given concurrency, else Little's law on the mean billed duration (at
    least 1). Misses depend on the container count and vice versa: a few rounds settle it."""
    if w.concurrency is not None:
        return w.concurrency
    if invocations <= 0:
        return 1
    n = 1
    for _ in range(20):
        miss_share = min(1.0, _valid_calls(w, invocations, n, api_cache=api_cache) / invocations)
        mean_ms = w.hit_ms + miss_share * (w.miss_ms - w.hit_ms)
        estimate = max(1, math.ceil(invocations * mean_ms / 1000))
        if estimate == n:
            break
        n = estimate
    return n


def secrets_calls(w: Workload, *, api_cache: bool) -> float:
    """GetSecretValue calls per second for valid traffic plus unknown-id traffic (which API
    Gateway's cache does not absorb: a denied token is cached too, but every guess is new)."""
    inv = authorizer_invocations(w, api_cache=api_cache)
    n = containers(w, inv, api_cache=api_cache)
    valid = _valid_calls(w, inv, n, api_cache=api_cache)
    unknown = 0.0
    if w.unknown_rps > 0:
        unknown = (
            w.unknown_rps if w.unknown_ids == 0 else refetch_rate(w.unknown_rps, w.unknown_ids * n, w.negative_ttl)
        )
    return valid + unknown


@dataclass(frozen=True)
class Bill:
    """Monthly US dollars."""

    secrets: float
    secrets_api: float
    lambda_requests: float
    lambda_duration: float
    http_api: float

    @property
    def authorizer_total(self) -> float:
        """What tokengate adds to the bill (API Gateway's own request price is paid anyway)."""
        return self.secrets + self.secrets_api + self.lambda_requests + self.lambda_duration

    @property
    def total(self) -> float:
        return self.authorizer_total + self.http_api


def http_api_monthly(requests_per_month: float, p: Prices) -> float:
    first = min(requests_per_month, 300e6)
    rest = max(0.0, requests_per_month - 300e6)
    return first / 1e6 * p.http_api_per_million + rest / 1e6 * p.http_api_per_million_above_300m


def monthly_bill(w: Workload, *, api_cache: bool, p: Prices = Prices()) -> Bill:
    inv = authorizer_invocations(w, api_cache=api_cache)
    calls = secrets_calls(w, api_cache=api_cache)
    misses = min(inv, calls)
    billed_s = (inv - misses) * w.hit_ms / 1000 + misses * w.miss_ms / 1000  # per second of wall time
    gb_second = p.lambda_gb_second(w.architecture)
    return Bill(
        secrets=(w.secrets if w.secrets is not None else w.clients) * p.secret_per_month,
        secrets_api=calls * SECONDS_PER_MONTH / 10_000 * p.secrets_api_per_10k,
        lambda_requests=inv * SECONDS_PER_MONTH / 1e6 * p.lambda_per_million,
        lambda_duration=billed_s * SECONDS_PER_MONTH * (w.memory_mb / 1024) * gb_second,
        http_api=http_api_monthly(w.rps * SECONDS_PER_MONTH, p),
    )


def revocation_bound(w: Workload, *, api_cache: bool) -> tuple[float, float]:
    """Seconds until a revoked token is refused everywhere: normally, and while Secrets Manager fails
    (a stale entry answers for up to max_stale)."""
    api = w.api_cache_ttl if api_cache else 0.0
    return api + w.ttl, api + max(w.ttl, w.max_stale)


def rps_at_quota(w: Workload, quota: float, *, api_cache: bool, ceiling: float = 1e9) -> float | None:
    """The request rate at which Secrets Manager calls reach ``quota``, other things equal; None if never.

    Calls grow monotonically with rps, so a bisection finds it (it also copes with a concurrency
    that grows with the load)."""

    def calls_at(rps: float) -> float:
        return secrets_calls(replace(w, rps=rps), api_cache=api_cache)

    if calls_at(ceiling) < quota:
        return None
    lo, hi = 0.0, ceiling
    for _ in range(200):
        mid = (lo + hi) / 2
        if calls_at(mid) < quota:
            lo = mid
        else:
            hi = mid
        if hi - lo <= max(1e-6, hi * 1e-9):
            break
    return hi


@dataclass(frozen=True)
class UsageControlCost:
    """What clients with a usage policy add, while no limit binds: DynamoDB writes and storage, and
    the authorizer's time waiting for them. Usage control needs API Gateway's cache off, so this
    belongs to the "without API cache" column only."""

    pair_requests_per_s: float  # one limited client's requests reaching one container
    lease_writes_per_s: float  # conditional UpdateItems taking leases, every limited client and container
    flush_writes_per_s: float  # UpdateItems writing hourly counts
    hottest_item_writes_per_s: float  # on one client's rate-limit bucket (unsharded) or quota counter
    storage_gb: float  # hourly usage counts kept for USAGE_RETENTION_DAYS
    dynamodb_monthly: float  # write request units + storage
    lambda_monthly: float  # the authorizer's billed time waiting for those writes
    per_client_monthly: float
    per_container_monthly: float

    @property
    def write_units_per_s(self) -> float:
        return (self.lease_writes_per_s + self.flush_writes_per_s) * WRITE_UNITS_PER_USAGE_WRITE

    @property
    def monthly(self) -> float:
        return self.dynamodb_monthly + self.lambda_monthly


def lease_rate(request_rate: float) -> float:
    """Leases per second for one limit, one client and one container: a lease holds about
    LEASE_WINDOW seconds of the container's demand, and at least the request that takes it."""
    return request_rate / max(1.0, request_rate * LEASE_WINDOW)


def usage_control_cost(w: Workload, n_containers: int, p: Prices = Prices()) -> UsageControlCost:
    """Each limited client's traffic spread evenly over the containers (as the cache model spreads
    every client's): per (client, container), lease writes at :func:`lease_rate` per limit and
    count writes at ``refetch_rate(r, 1, FLUSH_SECONDS)``. Storage: one item per client, hour and
    usage shard a container writes to (USAGE_SHARDS, chosen at random per container)."""
    clients = w.limited_clients
    if clients == 0:
        return UsageControlCost(0, 0, 0, 0, 0, 0, 0, 0, 0)
    pair = w.limited_request_rate / clients / n_containers
    per_limit = lease_rate(pair)
    leases = clients * n_containers * LEASE_KINDS[w.policy] * per_limit
    flushes = clients * n_containers * refetch_rate(pair, 1, FLUSH_SECONDS)
    shards_per_hour = USAGE_SHARDS * (1 - (1 - 1 / USAGE_SHARDS) ** n_containers)
    storage_gb = clients * shards_per_hour * 24 * USAGE_RETENTION_DAYS * w.usage_item_bytes / 1e9
    write_units = (leases + flushes) * WRITE_UNITS_PER_USAGE_WRITE
    dynamodb = write_units * SECONDS_PER_MONTH / 1e6 * p.dynamodb_per_million_wru + storage_gb * p.dynamodb_gb_month
    waited_s = (leases + flushes) * w.usage_call_ms / 1000 * SECONDS_PER_MONTH
    lambda_monthly = waited_s * (w.memory_mb / 1024) * p.lambda_gb_second(w.architecture)
    total = dynamodb + lambda_monthly
    return UsageControlCost(
        pair_requests_per_s=pair,
        lease_writes_per_s=leases,
        flush_writes_per_s=flushes,
        hottest_item_writes_per_s=n_containers * per_limit if LEASE_KINDS[w.policy] else 0.0,
        storage_gb=storage_gb,
        dynamodb_monthly=dynamodb,
        lambda_monthly=lambda_monthly,
        per_client_monthly=total / clients,
        per_container_monthly=total / n_containers,
    )


@dataclass(frozen=True)
class StoreComparison:
    """Digests in DynamoDB (on-demand, one GetItem per cache miss) instead of GetSecretValue;
    Secrets Manager keeps the client-retrievable secret, so the secrets' monthly price stays."""

    secrets_api_monthly: float
    dynamodb_monthly: float
    saving_per_call_per_s: float  # monthly saving for each sustained call per second
    crossover_calls_per_s: float  # where the saving reaches the threshold
    threshold: float
    consistent_reads: bool


def dynamodb_comparison(
    w: Workload,
    calls_per_s: float,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    consistent_reads: bool = False,
    p: Prices = Prices(),
) -> StoreComparison:
    rru = 1.0 if consistent_reads else 0.5  # an item up to 4 KB
    per_call_sm = p.per_call
    per_call_ddb = rru * p.dynamodb_per_million_rru / 1e6
    secrets = w.secrets if w.secrets is not None else w.clients
    fixed_ddb = (
        secrets * w.item_bytes / 1e9 * p.dynamodb_gb_month
        + secrets * w.writes_per_client_month * math.ceil(w.item_bytes / 1024) * p.dynamodb_per_million_wru / 1e6
    )
    saving_per_call_per_s = (per_call_sm - per_call_ddb) * SECONDS_PER_MONTH
    return StoreComparison(
        secrets_api_monthly=calls_per_s * SECONDS_PER_MONTH * per_call_sm,
        dynamodb_monthly=calls_per_s * SECONDS_PER_MONTH * per_call_ddb + fixed_ddb,
        saving_per_call_per_s=saving_per_call_per_s,
        crossover_calls_per_s=(threshold + fixed_ddb) / saving_per_call_per_s,
        threshold=threshold,
        consistent_reads=consistent_reads,
    )


@dataclass(frozen=True)
class Variant:
    api_cache: bool
    invocations_per_s: float
    containers: int
    secrets_calls_per_s: float
    secrets_calls_upper_bound: float
    bill: Bill
    revocation_s: float
    revocation_outage_s: float
    rps_at_secrets_quota: float | None
    dynamodb: StoreComparison
    usage: UsageControlCost | None  # None with API Gateway's cache on: usage policies are refused there


@dataclass(frozen=True)
class Plan:
    workload: Workload
    prices: Prices
    quotas: Quotas
    variants: list[Variant] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan(
    w: Workload,
    *,
    p: Prices = Prices(),
    q: Quotas = Quotas(),
    threshold: float = DEFAULT_THRESHOLD,
    consistent_reads: bool = False,
) -> Plan:
    result = Plan(w, p, q)
    for api_cache in (False, True):
        inv = authorizer_invocations(w, api_cache=api_cache)
        c = containers(w, inv, api_cache=api_cache)
        calls = secrets_calls(w, api_cache=api_cache)
        revoke, outage = revocation_bound(w, api_cache=api_cache)
        result.variants.append(
            Variant(
                api_cache=api_cache,
                invocations_per_s=inv,
                containers=c,
                secrets_calls_per_s=calls,
                secrets_calls_upper_bound=upper_bound(inv, w.clients * c, w.ttl),
                bill=monthly_bill(w, api_cache=api_cache, p=p),
                revocation_s=revoke,
                revocation_outage_s=outage,
                rps_at_secrets_quota=rps_at_quota(w, q.get_secret_value_per_s, api_cache=api_cache),
                dynamodb=dynamodb_comparison(w, calls, threshold=threshold, consistent_reads=consistent_reads, p=p),
                usage=None if api_cache else usage_control_cost(w, c, p),
            )
        )
        if calls > q.get_secret_value_per_s:
            label = "with" if api_cache else "without"
            result.warnings.append(
                f"{label} the API cache: {calls:,.0f} GetSecretValue/s exceeds the {q.get_secret_value_per_s:,.0f}/s "
                f"quota (not adjustable): raise the TTL, turn on the API cache, or move digests to DynamoDB"
            )
        if c > q.lambda_concurrency:
            result.warnings.append(
                f"{c:,} authorizer containers exceed the default {q.lambda_concurrency:,} concurrency"
            )
    usage = result.variants[0].usage
    if usage is not None and usage.hottest_item_writes_per_s > PARTITION_WRITE_UNITS_PER_S:
        result.warnings.append(
            f"usage control: {usage.hottest_item_writes_per_s:,.0f} writes/s on one client's bucket or quota counter "
            f"exceed DynamoDB's {PARTITION_WRITE_UNITS_PER_S:,} per partition: it would throttle (a rate limit then "
            f"fails open, a quota closed)"
        )
    if w.rps > q.http_api_rps:
        result.warnings.append(f"{w.rps:,.0f} req/s exceeds API Gateway's default {q.http_api_rps:,.0f} req/s throttle")
    return result

"""The capacity model's inputs (a :class:`Workload`, :class:`Prices`, :class:`Quotas`), the cache
arithmetic both designs share, the per-container model of 0.2 (every container asks Secrets
Manager for each client once per TTL), and what usage control adds in DynamoDB: pure functions,
so the tests check them against arithmetic done by hand. A workload's defaults are what the stack
deploys. The digest index and change feed that replaced 0.2's lookups are priced in
:mod:`tokengate.capacity.shared`.

The cache model
---------------
Take ``K`` cache keys, requests arriving at ``r`` per second spread evenly over them (Poisson),
and an entry that stays fresh for ``T`` seconds. After a fetch, a key's next fetch is the first
request after the entry expires: on average ``T + K / r`` seconds later. So the fetch rate is::

    calls/s = K / (T + K / r) = r * K / (r * T + K)        (1 / calls = 1 / r + T / K)

It never exceeds either term of the rule of thumb ``min(r, K / T)`` and tends to each of them at
the extremes: few requests per key (every request misses: ``r``) or many (each key is refetched
once per TTL: ``K / T``). Each warm authorizer container keeps its own cache, so ``K`` is active
clients times containers.

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from tokengate import use_infra_path

use_infra_path()
from infra.settings import LAMBDA_ARCHITECTURE, StackSettings  # noqa: E402 - infra is on the path only now
from tokengate_core.authorize.settings import AuthorizerSettings  # noqa: E402
from tokengate_core.authorize.usage import FLUSH_SECONDS, LEASE_WINDOW, USAGE_RETENTION_DAYS, USAGE_SHARDS  # noqa: E402
from tokengate_core.deployment.functions import FUNCTIONS  # noqa: E402

SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
Architecture = Literal["arm64", "x86_64"]
#: API Gateway's authorizer result cache as the stack deploys it (off while usage control is on).
DEPLOYED_API_CACHE_TTL = float(StackSettings.model_fields["api_cache_ttl_seconds"].default)
#: Which limits a client's usage policy has; each of a rate limit and a quota takes its own leases.
UsagePolicyKind = Literal["rate", "quota", "rate+quota", "allowlist"]
LEASE_KINDS: dict[str, int] = {"rate": 1, "quota": 1, "rate+quota": 2, "allowlist": 0}
#: What one write of a usage item costs: every such item is far under 1 KB.
WRITE_UNITS_PER_USAGE_WRITE = 1
#: DynamoDB's throughput per partition, whatever the table's capacity: one client's bucket shard or
#: quota counter is one item, and the change feed is one partition key
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html:
#: "each individual partition is limited to 1,000 write units per second and 3,000 read units per second").
PARTITION_WRITE_UNITS_PER_S = 1_000
PARTITION_READ_UNITS_PER_S = 3_000
#: Read units of one read of up to 4 KB: eventually consistent, strongly consistent
#: (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
EVENTUAL_READ_UNITS = 0.5
CONSISTENT_READ_UNITS = 1.0
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


@dataclass(frozen=True)
class Prices:
    """US East (N. Virginia), on-demand, without free tiers. Checked on the date below, on
    https://aws.amazon.com/secrets-manager/pricing/, https://aws.amazon.com/lambda/pricing/,
    https://aws.amazon.com/api-gateway/pricing/ and https://aws.amazon.com/dynamodb/pricing/on-demand/."""

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
    """Per account and Region (defaults): https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_limits.html,
    https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html,
    https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html,
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html."""

    get_secret_value_per_s: float = 10_000  # not adjustable (combined with DescribeSecret in older docs)
    list_secrets_per_s: float = 100  # not adjustable
    http_api_rps: float = 10_000  # account throttle across APIs, adjustable; burst 5,000
    lambda_concurrency: int = 1_000  # adjustable
    dynamodb_table_rru_per_s: float = 40_000  # on-demand table default maximum, adjustable


PRICES = Prices()
QUOTAS = Quotas()


@dataclass(frozen=True)
class Workload:
    """A load on the authorizer. Every default is the deployed stack's: the authorizer's memory from
    the function table, its architecture and the API cache TTL from infra's settings, the cache
    TTLs and size from the authorizer's settings."""

    rps: float  # requests per second reaching API Gateway with a token
    clients: int  # active clients (each sends some of the traffic)
    ttl: float = AuthorizerSettings.default("cache_ttl_seconds")  # the in-memory TTL while the feed is read
    fallback_ttl: float = AuthorizerSettings.default("fallback_ttl_seconds")  # without the feed; 0.2's only one
    negative_ttl: float = AuthorizerSettings.default("negative_cache_ttl_seconds")  # for unknown key ids
    max_stale: float = AuthorizerSettings.default("max_stale_seconds")  # answers while the backend fails
    cache_max_entries: int = AuthorizerSettings.default("cache_max_entries")  # per container (LRU)
    api_cache_ttl: float = DEPLOYED_API_CACHE_TTL  # API Gateway's authorizer result cache (0: off)
    concurrency: int | None = None  # warm authorizer containers; None: Little's law estimate
    secrets: int | None = None  # secrets stored (default: clients)
    routes_per_client: int = 1  # distinct route keys per client (the API cache keys on token + route)
    unknown_rps: float = 0.0  # requests with tokens this deployment signed whose key ids no longer exist
    unknown_ids: int = 0  # distinct unknown key ids among them (0: every one different)
    hit_ms: float = 1.0  # billed duration of a cached decision (Lambda bills 1 ms increments)
    miss_ms: float = 25.0  # billed duration of a miss in 0.2 (one in-region GetSecretValue)
    lookup_ms: float = 5.0  # billed time a DynamoDB read adds to a decision (index GetItem, feed Query)
    memory_mb: int = FUNCTIONS["authorizer"].memory_mb
    architecture: Architecture = LAMBDA_ARCHITECTURE
    index_item_bytes: int = 700  # one client's index item (keys, the digest document, state, version)
    changes_per_client_month: float = 2.0  # issue, update, rotation steps, revoke... per client
    limited_clients: int = 0  # active clients with a usage policy (rate limit, quota, allowlist)
    limited_rps: float | None = None  # their requests per second (default: their share of rps)
    policy: UsagePolicyKind = "rate"  # what their policies limit
    usage_item_bytes: int = 150  # one hourly usage-count item (key, a few counters, expiry)
    usage_call_ms: float = 5.0  # billed authorizer time per DynamoDB call (an in-region UpdateItem)

    def __post_init__(self) -> None:
        ttls = (self.ttl, self.fallback_ttl, self.negative_ttl, self.max_stale, self.api_cache_ttl)
        if self.rps < 0 or self.clients < 1 or min(ttls) < 0:
            raise ValueError("rps, TTLs must be >= 0 and clients >= 1")
        if self.cache_max_entries < 1 or self.changes_per_client_month < 0 or self.index_item_bytes < 1:
            raise ValueError("cache entries and item bytes must be >= 1, changes >= 0")
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


def authorizer_invocations(w: Workload) -> float:
    """Invocations per second: all requests, or with API Gateway's cache on, one per (token, route)
    per its TTL.

    API Gateway's cache is modelled as one cache; it is in fact spread over its fleet, so real
    invocation counts are higher (this is the optimistic side)."""
    if w.api_cache_ttl == 0:
        return w.rps
    return refetch_rate(w.rps, w.clients * w.routes_per_client, w.api_cache_ttl)


def settle_containers(w: Workload, invocations: float, slow_per_s: Callable[[int], float], slow_ms: float) -> int:
    """Warm containers: the given concurrency, else Little's law on the mean billed duration (at
    least 1), with ``slow_per_s(n)`` of the invocations taking ``slow_ms`` instead of ``hit_ms``.
    The slow ones (misses) depend on the container count and vice versa: a few rounds settle it."""
    if w.concurrency is not None:
        return w.concurrency
    if invocations <= 0:
        return 1
    n = 1
    for _ in range(20):
        slow_share = min(1.0, slow_per_s(n) / invocations)
        mean_ms = w.hit_ms + slow_share * (slow_ms - w.hit_ms)
        estimate = max(1, math.ceil(invocations * mean_ms / 1000))
        if estimate == n:
            break
        n = estimate
    return n


def unknown_lookups(w: Workload, n_containers: int) -> float:
    """Backend lookups per second for tokens this deployment signed whose clients no longer exist
    (API Gateway's cache does not absorb them: a denied token is cached too, but every guess is new)."""
    if w.unknown_rps <= 0:
        return 0.0
    if w.unknown_ids == 0:
        return w.unknown_rps
    return refetch_rate(w.unknown_rps, w.unknown_ids * n_containers, w.negative_ttl)


# -- 0.2: every container asks Secrets Manager for each client once per TTL ------------------------


def _valid_calls(w: Workload, invocations: float, n_containers: int) -> float:
    if w.api_cache_ttl > 0 and w.fallback_ttl <= w.api_cache_ttl:
        return invocations  # each invocation comes after that container's entry has expired
    return refetch_rate(invocations, w.clients * n_containers, w.fallback_ttl)


def containers(w: Workload, invocations: float) -> int:
    """0.2's warm containers: a miss is a GetSecretValue (``miss_ms``)."""
    return settle_containers(w, invocations, lambda n: _valid_calls(w, invocations, n), w.miss_ms)


def secrets_calls(w: Workload) -> float:
    """0.2's GetSecretValue calls per second for valid traffic plus unknown-id traffic."""
    inv = authorizer_invocations(w)
    n = containers(w, inv)
    return _valid_calls(w, inv, n) + unknown_lookups(w, n)


@dataclass(frozen=True)
class Bill:
    """0.2's monthly US dollars."""

    secrets: float
    secrets_api: float
    lambda_requests: float
    lambda_duration: float
    http_api: float

    @property
    def request_path(self) -> float:
        return self.secrets_api + self.lambda_requests + self.lambda_duration

    @property
    def authorizer_total(self) -> float:
        """What tokengate adds to the bill (API Gateway's own request price is paid anyway)."""
        return self.secrets + self.request_path


def http_api_monthly(requests_per_month: float, p: Prices) -> float:
    first = min(requests_per_month, 300e6)
    rest = max(0.0, requests_per_month - 300e6)
    return first / 1e6 * p.http_api_per_million + rest / 1e6 * p.http_api_per_million_above_300m


def secrets_at_rest(w: Workload, p: Prices) -> float:
    return (w.secrets if w.secrets is not None else w.clients) * p.secret_per_month


def lambda_monthly(w: Workload, invocations: float, billed_s_per_s: float, p: Prices) -> tuple[float, float]:
    """(requests, duration) per month for ``invocations``/s billed ``billed_s_per_s`` seconds a second."""
    gb_second = p.lambda_gb_second(w.architecture)
    return (
        invocations * SECONDS_PER_MONTH / 1e6 * p.lambda_per_million,
        billed_s_per_s * SECONDS_PER_MONTH * (w.memory_mb / 1024) * gb_second,
    )


def monthly_bill(w: Workload, p: Prices = Prices()) -> Bill:
    inv = authorizer_invocations(w)
    calls = secrets_calls(w)
    misses = min(inv, calls)
    requests, duration = lambda_monthly(w, inv, ((inv - misses) * w.hit_ms + misses * w.miss_ms) / 1000, p)
    return Bill(
        secrets=secrets_at_rest(w, p),
        secrets_api=calls * SECONDS_PER_MONTH * p.per_call,
        lambda_requests=requests,
        lambda_duration=duration,
        http_api=http_api_monthly(w.rps * SECONDS_PER_MONTH, p),
    )


def revocation_bound(w: Workload) -> tuple[float, float]:
    """0.2's seconds until a revoked token is refused everywhere: normally, and while Secrets
    Manager fails (a stale entry answers for up to max_stale)."""
    return w.api_cache_ttl + w.fallback_ttl, w.api_cache_ttl + max(w.fallback_ttl, w.max_stale)


def rps_at_quota(w: Workload, quota: float, *, ceiling: float = 1e9) -> float | None:
    """The request rate at which 0.2's Secrets Manager calls reach ``quota``, other things equal;
    None if never. Calls grow monotonically with rps, so a bisection finds it (it also copes with a
    concurrency that grows with the load)."""

    def calls_at(rps: float) -> float:
        return secrets_calls(replace(w, rps=rps))

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
    the authorizer's time waiting for them (usage control needs API Gateway's cache off)."""

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

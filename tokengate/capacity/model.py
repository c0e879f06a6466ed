"""Capacity and cost of the authorizer: Secrets Manager calls, monthly bill, quotas, revocation bound.

``tokengate capacity --rps 500 --clients 2000 --ttl 30`` prints the plan; docs/scaling.md explains
the model. Everything here is a pure function of a :class:`Workload`, :class:`Prices` and
:class:`Quotas`, so the tests check it against arithmetic done by hand.

The cache model
---------------
Each warm authorizer container keeps its own cache. Take ``K`` cache keys (active clients times
containers), requests arriving at ``r`` per second spread evenly over them (Poisson), and an entry
that stays fresh for ``T`` seconds. After a fetch, a key's next fetch is the first request after
the entry expires: on average ``T + K / r`` seconds later. So the fetch rate is::

    calls/s = K / (T + K / r) = r * K / (r * T + K)        (1 / calls = 1 / r + T / K)

It never exceeds either bound of the issue's rule of thumb ``min(r, K / T)`` and tends to each of
them at the extremes: few requests per key (every request misses: ``r``) or many (each key is
refetched once per TTL: ``K / T``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours


@dataclass(frozen=True)
class Prices:
    """US East (N. Virginia), on-demand, without free tiers. Checked on the date below."""

    as_of: str = "2025-11 (us-east-1; AWS pricing pages for Secrets Manager, Lambda, API Gateway, DynamoDB)"
    secret_per_month: float = 0.40
    secrets_api_per_10k: float = 0.05
    lambda_per_million: float = 0.20
    lambda_gb_second_x86: float = 0.0000166667
    lambda_gb_second_arm: float = 0.0000133334
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
    rps: float  # requests per second reaching API Gateway with a token
    clients: int  # active clients (each sends some of the traffic)
    ttl: float = 30.0  # authorizer's in-memory cache TTL (TOKENGATE_CACHE_TTL_SECONDS)
    negative_ttl: float = 10.0  # for unknown key ids
    max_stale: float = 300.0  # how long a cached entry answers while Secrets Manager fails
    api_cache_ttl: float = 300.0  # API Gateway authorizer result cache TTL when it is on
    concurrency: int | None = None  # warm authorizer containers; None: Little's law estimate
    secrets: int | None = None  # secrets stored (default: clients)
    routes_per_client: int = 1  # distinct route keys per client (the API cache keys on token + route)
    unknown_rps: float = 0.0  # requests with well-formed tokens whose key ids do not exist
    unknown_ids: int = 0  # distinct unknown key ids among them (0: every one different)
    hit_ms: float = 1.0  # billed duration of a cached decision (Lambda bills 1 ms increments)
    miss_ms: float = 25.0  # billed duration of a miss (one in-region GetSecretValue)
    memory_mb: int = 256
    arm64: bool = False
    item_bytes: int = 400  # a digest record, for the DynamoDB comparison
    writes_per_client_month: float = 2.0  # issue/rotate/update writes, for the DynamoDB comparison

    def __post_init__(self) -> None:
        if self.rps < 0 or self.clients < 1 or self.ttl < 0 or self.negative_ttl < 0 or self.api_cache_ttl < 0:
            raise ValueError("rps, TTLs must be >= 0 and clients >= 1")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")


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
    gb_second = p.lambda_gb_second_arm if w.arm64 else p.lambda_gb_second_x86
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
    threshold: float = 100.0,
    consistent_reads: bool = False,
    p: Prices = Prices(),
) -> StoreComparison:
    rru = 1.0 if consistent_reads else 0.5  # an item up to 4 KB
    per_call_sm = p.secrets_api_per_10k / 10_000
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


@dataclass(frozen=True)
class Plan:
    workload: Workload
    prices: Prices
    quotas: Quotas
    variants: list[Variant] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan(
    w: Workload, *, p: Prices = Prices(), q: Quotas = Quotas(), threshold: float = 100.0, consistent_reads: bool = False
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
    if w.rps > q.http_api_rps:
        result.warnings.append(f"{w.rps:,.0f} req/s exceeds API Gateway's default {q.http_api_rps:,.0f} req/s throttle")
    return result


# -- the command ---------------------------------------------------------------------------------


def _money(value: float) -> str:
    return f"${value:,.2f}"


def render(result: Plan) -> str:
    w = result.workload
    lines = [
        f"Workload: {w.rps:,.0f} req/s from {w.clients:,} active clients; in-memory TTL {w.ttl:g} s "
        f"(negative {w.negative_ttl:g} s, max stale {w.max_stale:g} s); API cache TTL {w.api_cache_ttl:g} s "
        f"when on; authorizer {w.memory_mb} MB {'arm64' if w.arm64 else 'x86_64'}, "
        f"billed {w.hit_ms:g} ms per hit / {w.miss_ms:g} ms per miss.",
        "",
    ]
    header = f"{'':38}{'without API cache':>20}{'with API cache':>20}"
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fn: Any) -> None:
        rows.append((label, [fn(v) for v in result.variants]))

    row("authorizer invocations/s", lambda v: f"{v.invocations_per_s:,.1f}")
    row("warm authorizer containers", lambda v: f"{v.containers:,}")
    row("GetSecretValue calls/s (model)", lambda v: f"{v.secrets_calls_per_s:,.2f}")
    row("  upper bound min(rps, C*clients/TTL)", lambda v: f"{v.secrets_calls_upper_bound:,.2f}")
    row("secrets ($0.40 each)", lambda v: _money(v.bill.secrets))
    row("Secrets Manager API calls", lambda v: _money(v.bill.secrets_api))
    row("Lambda requests", lambda v: _money(v.bill.lambda_requests))
    row("Lambda duration", lambda v: _money(v.bill.lambda_duration))
    row("= tokengate per month", lambda v: _money(v.bill.authorizer_total))
    row("API Gateway HTTP API requests", lambda v: _money(v.bill.http_api))
    row("revocation bound (s)", lambda v: f"{v.revocation_s:g}")
    row("  while Secrets Manager fails (s)", lambda v: f"{v.revocation_outage_s:g}")
    row(
        "req/s at GetSecretValue quota",
        lambda v: "never" if v.rps_at_secrets_quota is None else f"{v.rps_at_secrets_quota:,.0f}",
    )
    row("DynamoDB instead, per month", lambda v: _money(v.dynamodb.dynamodb_monthly))
    lines.append(header)
    lines += [f"{label:38}{a:>20}{b:>20}" for label, (a, b) in rows]
    d = result.variants[0].dynamodb
    lines += [
        "",
        f"Digests in DynamoDB on-demand ({'strongly' if d.consistent_reads else 'eventually'} consistent GetItem) "
        f"cost {_money(d.saving_per_call_per_s)} less per month for each sustained GetSecretValue/s; the saving "
        f"reaches {_money(d.threshold)}/month at {d.crossover_calls_per_s:,.1f} calls/s.",
        f"Prices: {result.prices.as_of}. Quotas: GetSecretValue {result.quotas.get_secret_value_per_s:,.0f}/s, "
        f"HTTP API {result.quotas.http_api_rps:,.0f} req/s, Lambda concurrency {result.quotas.lambda_concurrency:,}.",
    ]
    lines += [f"WARNING: {warning}" for warning in result.warnings]
    return "\n".join(lines)


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``capacity`` to the CLI's subcommands (``func(args) -> int`` convention)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "capacity",
        help="Secrets Manager calls, monthly cost, quotas and revocation bound for a workload",
        description="Capacity plan for the authorizer; the model is explained in docs/scaling.md.",
    )
    parser.add_argument("--rps", type=float, required=True, help="requests per second with a token")
    parser.add_argument("--clients", type=int, required=True, help="active clients")
    parser.add_argument("--ttl", type=float, default=30.0, help="in-memory cache TTL, s (default 30)")
    parser.add_argument("--negative-ttl", type=float, default=10.0, help="negative cache TTL, s (default 10)")
    parser.add_argument("--max-stale", type=float, default=300.0, help="stale-if-error bound, s (default 300)")
    parser.add_argument("--api-cache-ttl", type=float, default=300.0, help="API Gateway result cache TTL, s (300)")
    parser.add_argument("--concurrency", type=int, default=None, help="warm authorizer containers (default: estimate)")
    parser.add_argument("--secrets", type=int, default=None, help="secrets stored (default: --clients)")
    parser.add_argument("--routes-per-client", type=int, default=1, help="distinct routes per client (default 1)")
    parser.add_argument("--unknown-rps", type=float, default=0.0, help="req/s with unknown key ids (default 0)")
    parser.add_argument("--unknown-ids", type=int, default=0, help="distinct unknown ids (0: all different)")
    parser.add_argument("--hit-ms", type=float, default=1.0, help="billed ms per cached decision (default 1)")
    parser.add_argument("--miss-ms", type=float, default=25.0, help="billed ms per cache miss (default 25)")
    parser.add_argument("--memory-mb", type=int, default=256, help="authorizer memory, MB (default 256)")
    parser.add_argument("--arm64", action="store_true", help="price the authorizer on arm64")
    parser.add_argument("--threshold", type=float, default=100.0, help="$/month saving that justifies DynamoDB")
    parser.add_argument("--consistent-reads", action="store_true", help="strongly consistent DynamoDB reads")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=run)
    return parser


def workload_from_args(args: argparse.Namespace) -> Workload:
    return Workload(
        rps=args.rps,
        clients=args.clients,
        ttl=args.ttl,
        negative_ttl=args.negative_ttl,
        max_stale=args.max_stale,
        api_cache_ttl=args.api_cache_ttl,
        concurrency=args.concurrency,
        secrets=args.secrets,
        routes_per_client=args.routes_per_client,
        unknown_rps=args.unknown_rps,
        unknown_ids=args.unknown_ids,
        hit_ms=args.hit_ms,
        miss_ms=args.miss_ms,
        memory_mb=args.memory_mb,
        arm64=args.arm64,
    )


def run(args: argparse.Namespace) -> int:
    try:
        workload = workload_from_args(args)
    except ValueError as error:
        print(f"error: {error}")
        return 2
    result = plan(workload, threshold=args.threshold, consistent_reads=args.consistent_reads)
    if args.json:
        print(json.dumps(to_json(result), indent=2))
    else:
        print(render(result))
    return 0


def to_json(result: Plan) -> dict[str, Any]:
    out = asdict(result)
    for variant, data in zip(result.variants, out["variants"], strict=True):
        data["bill"]["authorizer_total"] = variant.bill.authorizer_total
        data["bill"]["total"] = variant.bill.total
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m tokengate.capacity`` works without the CLI wiring."""
    parser = argparse.ArgumentParser(prog="tokengate")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())

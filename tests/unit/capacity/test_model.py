"""The capacity model against arithmetic done by hand (each test shows its sums)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tokengate.capacity import model as capacity
from tokengate.capacity.model import Workload
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS

MONTH = 730 * 3600  # 2,628,000 s


def test_refetch_rate_is_the_renewal_formula() -> None:
    # 100 req/s over 1,000 keys, TTL 30 s: 100 * 1000 / (100 * 30 + 1000) = 100,000 / 4,000 = 25 calls/s
    assert capacity.refetch_rate(100, 1_000, 30) == pytest.approx(25.0)
    # TTL 0: every request fetches
    assert capacity.refetch_rate(100, 1_000, 0) == pytest.approx(100.0)
    # no traffic, no calls
    assert capacity.refetch_rate(0, 1_000, 30) == 0.0
    # many requests per key: tends to keys / TTL = 1000 / 30 = 33.33...
    assert capacity.refetch_rate(1e7, 1_000, 30) == pytest.approx(1_000 / 30, rel=1e-4)
    # few requests per key: tends to the request rate
    assert capacity.refetch_rate(1, 1e9, 30) == pytest.approx(1.0, rel=1e-6)


def test_model_never_exceeds_the_rule_of_thumb() -> None:
    for rps in (0.1, 1, 10, 100, 1_000, 100_000):
        for keys in (1, 10, 1_000, 100_000):
            for ttl in (0, 1, 30, 300):
                assert capacity.refetch_rate(rps, keys, ttl) <= capacity.upper_bound(rps, keys, ttl) * (1 + 1e-12)


def base() -> Workload:
    return Workload(
        rps=100,
        clients=1_000,
        ttl=30,
        negative_ttl=10,
        max_stale=300,
        api_cache_ttl=300,
        concurrency=2,
        hit_ms=1,
        miss_ms=25,
        memory_mb=256,
        architecture="x86_64",
    )


def test_calls_and_bill_without_the_api_cache() -> None:
    w = base()
    # 2 containers x 1,000 clients = 2,000 keys: 100 * 2000 / (100 * 30 + 2000) = 200,000 / 5,000 = 40 calls/s
    assert capacity.secrets_calls(w, api_cache=False) == pytest.approx(40.0)
    bill = capacity.monthly_bill(w, api_cache=False)
    assert bill.secrets == pytest.approx(1_000 * 0.40)  # $400
    # 40/s * 2,628,000 s = 105,120,000 calls = 10,512 x 10k x $0.05 = $525.60
    assert bill.secrets_api == pytest.approx(525.60)
    # 100/s * 2,628,000 = 262.8 M invocations x $0.20 = $52.56
    assert bill.lambda_requests == pytest.approx(52.56)
    # per second: 60 hits x 1 ms + 40 misses x 25 ms = 1.06 s; x 2,628,000 = 2,785,680 s x 0.25 GB
    # = 696,420 GB-s x $0.0000166667 = $11.607...
    assert bill.lambda_duration == pytest.approx(696_420 * 0.0000166667)
    # 262.8 M HTTP API requests x $1.00 per million = $262.80
    assert bill.http_api == pytest.approx(262.80)
    assert bill.authorizer_total == pytest.approx(400 + 525.60 + 52.56 + 696_420 * 0.0000166667)


def test_api_cache_cuts_invocations_and_widens_the_revocation_bound() -> None:
    w = base()  # API cache TTL 300 s
    # one cache key per client: 100 * 1000 / (100 * 300 + 1000) = 100,000 / 31,000 = 3.2258 invocations/s
    invocations = capacity.authorizer_invocations(w, api_cache=True)
    assert invocations == pytest.approx(100_000 / 31_000)
    # API cache TTL (300) >= in-memory TTL (30): every invocation misses the container cache
    assert capacity.secrets_calls(w, api_cache=True) == pytest.approx(invocations)
    # revocation: 0 + 30 s, or 30 s + ... while Secrets Manager fails: max(30, 300 stale) = 300 s
    assert capacity.revocation_bound(w, api_cache=False) == (30, 300)
    # with the API cache: 300 + 30 = 330 s, and 300 + 300 = 600 s
    assert capacity.revocation_bound(w, api_cache=True) == (330, 600)


def test_routes_per_client_multiply_the_api_cache_keys() -> None:
    w = Workload(rps=100, clients=1_000, routes_per_client=3, api_cache_ttl=300, concurrency=1)
    # 3,000 keys: 100 * 3000 / (100 * 300 + 3000) = 300,000 / 33,000 = 9.0909 invocations/s
    assert capacity.authorizer_invocations(w, api_cache=True) == pytest.approx(300_000 / 33_000)


def test_unknown_key_ids_add_calls_bounded_by_the_negative_ttl() -> None:
    w = Workload(rps=0, clients=1, concurrency=1, unknown_rps=50, unknown_ids=0)
    # every guess is a new id: 50 calls/s
    assert capacity.secrets_calls(w, api_cache=False) == pytest.approx(50.0)
    w = Workload(rps=0, clients=1, concurrency=1, unknown_rps=50, unknown_ids=10, negative_ttl=10)
    # 10 ids, negative TTL 10 s: 50 * 10 / (50 * 10 + 10) = 500 / 510 = 0.98 calls/s
    assert capacity.secrets_calls(w, api_cache=False) == pytest.approx(500 / 510)


def test_request_rate_at_the_get_secret_value_quota() -> None:
    w = Workload(rps=1, clients=50_000, ttl=30, concurrency=10)
    # K = 500,000 keys; calls = r K / (r T + K) = 10,000  =>  r = Q K / (K - Q T)
    #   = 10,000 * 500,000 / (500,000 - 300,000) = 25,000 req/s
    assert capacity.rps_at_quota(w, 10_000, api_cache=False) == pytest.approx(25_000, rel=1e-6)
    # K / T = 10,000 / 30 = 333 calls/s at most: the quota is never reached
    small = Workload(rps=1, clients=1_000, ttl=30, concurrency=10)
    assert capacity.rps_at_quota(small, 10_000, api_cache=False) is None


def test_containers_by_littles_law() -> None:
    w = Workload(rps=1_000, clients=10, ttl=30, hit_ms=1, miss_ms=25)
    # 1 container: misses 1000*10/(1000*30+10) = 0.333/s, mean 1 + 0.000333*24 = 1.008 ms
    #   -> ceil(1000 * 1.008 / 1000) = 2; with 2: misses 0.666/s, mean 1.016 ms -> 2 (settled)
    assert capacity.containers(w, 1_000) == 2
    assert capacity.containers(Workload(rps=1, clients=1, concurrency=7), 1) == 7
    assert capacity.containers(w, 0) == 1


def test_dynamodb_crossover() -> None:
    w = Workload(rps=100, clients=1_000, concurrency=1)
    comparison = capacity.dynamodb_comparison(w, calls_per_s=10, threshold=100)
    # per call: Secrets Manager $0.05 / 10,000 = $0.000005; DynamoDB 0.5 RRU x $0.125 / M = $0.0000000625
    # saving per sustained call/s: (0.000005 - 0.0000000625) x 2,628,000 = $12.97575 a month
    assert comparison.saving_per_call_per_s == pytest.approx(12.97575)
    assert comparison.secrets_api_monthly == pytest.approx(10 * MONTH * 0.000005)  # $131.40
    # fixed: 1,000 x 400 B = 0.0004 GB x $0.25 = $0.0001, plus 2,000 writes x $0.625 / M = $0.00125
    fixed = 0.0001 + 0.00125
    assert comparison.dynamodb_monthly == pytest.approx(10 * MONTH * 0.0000000625 + fixed)
    # (100 + 0.00135) / 12.97575 = 7.7068 calls/s
    assert comparison.crossover_calls_per_s == pytest.approx((100 + fixed) / 12.97575)


def test_http_api_price_tiers() -> None:
    # 400 M requests: 300 M x $1.00 + 100 M x $0.90 = $390
    assert capacity.http_api_monthly(400e6, capacity.Prices()) == pytest.approx(390.0)


def test_arm64_prices_duration_lower() -> None:
    x86 = capacity.monthly_bill(base(), api_cache=False)
    arm = capacity.monthly_bill(Workload(**{**base().__dict__, "architecture": "arm64"}), api_cache=False)
    # same GB-seconds, $0.0000133334 instead of $0.0000166667
    assert arm.lambda_duration == pytest.approx(696_420 * 0.0000133334)
    assert arm.lambda_duration < x86.lambda_duration


def test_plan_warns_past_the_quota() -> None:
    w = Workload(rps=50_000, clients=100_000, ttl=30, concurrency=10)
    result = capacity.plan(w)
    assert any("exceeds the 10,000/s" in warning for warning in result.warnings)
    assert any("API Gateway's default" in warning for warning in result.warnings)
    quiet = capacity.plan(base())
    assert quiet.warnings == []


def test_invalid_workloads_are_refused() -> None:
    with pytest.raises(ValueError):
        Workload(rps=-1, clients=10)
    with pytest.raises(ValueError):
        Workload(rps=1, clients=0)
    with pytest.raises(ValueError):
        Workload(rps=1, clients=1, concurrency=0)


def test_defaults_are_what_the_stack_deploys() -> None:
    from infra.settings import LAMBDA_ARCHITECTURE, StackSettings
    from tokengate_core.authorize.settings import AuthorizerSettings
    from tokengate_core.deployment.functions import FUNCTIONS

    w = Workload(rps=1, clients=1)
    assert (w.memory_mb, w.architecture) == (FUNCTIONS["authorizer"].memory_mb, LAMBDA_ARCHITECTURE)
    # The stack keeps API Gateway's cache off (usage control): the "with" column is an example TTL.
    assert StackSettings().api_cache_ttl_seconds == 0 and w.api_cache_ttl == capacity.API_CACHE_EXAMPLE_TTL > 0
    settings = AuthorizerSettings.from_env({})
    assert (w.ttl, w.negative_ttl, w.max_stale) == (
        settings.fallback_ttl_seconds,
        settings.negative_cache_ttl_seconds,
        settings.max_stale_seconds,
    )
    # So the plan's revocation bound without the API cache (its per-entry TTL) is the stack's own
    # once a container has given up on the change feed.
    bound = capacity.revocation_bound(w, api_cache=False)[0] + FEED_FALLBACK_SECONDS
    assert bound == StackSettings().revocation_bound_seconds


def test_usage_control_costs_lease_and_count_writes_per_client_and_container() -> None:
    from tokengate_core.authorize.usage import FLUSH_SECONDS, LEASE_WINDOW, USAGE_RETENTION_DAYS, USAGE_SHARDS

    w = Workload(rps=1_000, clients=100, limited_clients=10, policy="rate+quota", concurrency=4, memory_mb=1024)
    # their share: 1,000 x 10 / 100 = 100 req/s; per client and container: 100 / 10 / 4 = 2.5 req/s
    cost = capacity.usage_control_cost(w, 4)
    assert cost.pair_requests_per_s == pytest.approx(2.5)
    # a lease holds LEASE_WINDOW of demand, at least one request: 2.5 / max(1, 2.5 x window) per limit
    per_limit = 2.5 / max(1.0, 2.5 * LEASE_WINDOW)
    assert cost.lease_writes_per_s == pytest.approx(10 * 4 * 2 * per_limit)
    # counts at the first request FLUSH_SECONDS after the last: 2.5 / (2.5 x F + 1) per pair
    assert cost.flush_writes_per_s == pytest.approx(10 * 4 * 2.5 / (2.5 * FLUSH_SECONDS + 1))
    assert cost.hottest_item_writes_per_s == pytest.approx(4 * per_limit)
    # storage: 10 clients x shards a 4-container client touches an hour x hours kept x 150 B
    shards = USAGE_SHARDS * (1 - (1 - 1 / USAGE_SHARDS) ** 4)
    assert cost.storage_gb == pytest.approx(10 * shards * 24 * USAGE_RETENTION_DAYS * 150 / 1e9)
    writes = cost.lease_writes_per_s + cost.flush_writes_per_s
    assert cost.dynamodb_monthly == pytest.approx(writes * MONTH * 0.625 / 1e6 + cost.storage_gb * 0.25)
    # the authorizer waits 5 ms a write: 1 GB x seconds x arm64's price
    assert cost.lambda_monthly == pytest.approx(writes * 0.005 * MONTH * 0.0000133334)
    assert cost.per_client_monthly == pytest.approx(cost.monthly / 10)
    assert cost.per_container_monthly == pytest.approx(cost.monthly / 4)


def test_usage_control_is_free_without_policies_and_absent_with_the_api_cache() -> None:
    free = capacity.plan(Workload(rps=100, clients=10, concurrency=1))
    assert free.variants[0].usage is not None and free.variants[0].usage.monthly == 0
    limited = capacity.plan(Workload(rps=100, clients=10, limited_clients=10, policy="allowlist", concurrency=1))
    without, with_cache = limited.variants
    assert with_cache.usage is None  # the admin API refuses policies where API Gateway caches
    assert without.usage is not None and without.usage.lease_writes_per_s == 0 < without.usage.flush_writes_per_s


def test_a_client_whose_leases_pass_a_partition_is_a_warning() -> None:
    # one client at 100,000 req/s over 2,000 containers: 50 req/s each; each container leases its
    # bucket every LEASE_WINDOW: 2,000 / window writes a second on one item
    w = Workload(rps=100_000, clients=1, limited_clients=1, concurrency=2_000)
    assert any("per partition" in warning for warning in capacity.plan(w).warnings)
    assert not any("per partition" in warning for warning in capacity.plan(replace(w, concurrency=10)).warnings)


def test_limited_clients_are_checked() -> None:
    with pytest.raises(ValueError):
        Workload(rps=1, clients=1, limited_clients=2)
    with pytest.raises(ValueError):
        Workload(rps=1, clients=1, limited_clients=1, limited_rps=2)

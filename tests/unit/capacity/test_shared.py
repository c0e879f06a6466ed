"""The digest index and change feed's capacity model against arithmetic done by hand, and the two
targets it is held to at the worked cases."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.settings import StackSettings
from tokengate.capacity import shared
from tokengate.capacity.model import Prices, Workload
from tokengate.capacity.plan import plan
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS, FEED_INTERVAL_SECONDS

MONTH = 730 * 3600  # 2,628,000 s
ARM_GB_S = 0.0000133334


def small() -> Workload:
    return Workload(rps=100, clients=1_000, ttl=3600, concurrency=2, memory_mb=1024, architecture="arm64")


def test_index_feed_and_consistent_reads() -> None:
    w = small()
    # 2 containers x 1,000 clients = 2,000 keys, TTL 3,600 s: 100 * 2000 / (100 * 3600 + 2000) = 0.5525/s
    assert shared.index_reads(w, 100, 2) == pytest.approx(200_000 / 362_000)
    # 50 req/s per container, one read at the first request after each second: 2 * 50 / (50 * 1 + 1)
    assert shared.feed_reads(100, 2) == pytest.approx(2 * 50 / 51)
    # a feed read never exceeds one per interval per container, however busy
    assert shared.feed_reads(1e9, 2) == pytest.approx(2 / FEED_INTERVAL_SECONDS, rel=1e-6)
    # 1,000 clients x 2 changes a month / 2,628,000 s, each read again by both containers
    assert shared.consistent_reads(w, 2) == pytest.approx(2 * 2_000 / MONTH)


def test_a_cache_smaller_than_the_clients_misses_their_share() -> None:
    w = Workload(rps=1_000, clients=200_000, cache_max_entries=100_000, concurrency=1)
    # half the clients do not fit: at least half the lookups miss
    assert shared.index_reads(w, 1_000, 1) == pytest.approx(500.0)
    assert any("exceed the authorizer's cache" in warning for warning in plan(w).warnings)


def test_request_path_bill_floor_and_targets() -> None:
    w = small()
    cost = shared.shared_cost(w)
    index, feed, consistent = 200_000 / 362_000, 2 * 50 / 51, 2 * 2_000 / MONTH
    # half a read unit per eventual read of a 700-byte item or an empty feed, one per consistent read
    units = index * 0.5 + feed * 0.5 + consistent * 1.0
    assert cost.read_units_per_s == pytest.approx(units)
    assert cost.dynamodb_reads == pytest.approx(units * MONTH * 0.125 / 1e6)
    # the keyring: one GetSecretValue per container per 300 s
    assert cost.secrets_api == pytest.approx(2 / 300 * MONTH * 0.000005)
    # 100 invocations/s x 1 ms, plus 5 ms per DynamoDB read, at 1 GB on arm64
    billed = 100 * 0.001 + (index + feed + consistent) * 0.005
    assert cost.lambda_duration == pytest.approx(billed * MONTH * ARM_GB_S)
    assert cost.lambda_requests == pytest.approx(100 * MONTH / 1e6 * 0.20)  # $52.56
    # the floor: every request invoked and billed 1 ms, nothing else
    assert cost.floor == pytest.approx(52.56 + 100 * 0.001 * MONTH * ARM_GB_S)
    assert cost.request_path == pytest.approx(cost.lambda_requests + cost.lambda_duration + cost.backend)
    assert cost.floor_ratio == pytest.approx(cost.request_path / cost.floor)
    assert cost.backend_share == pytest.approx((cost.dynamodb_reads + cost.secrets_api) / 262.80)


def test_writes_reconciliation_and_storage_are_apart_from_requests() -> None:
    w = small()
    cost = shared.shared_cost(w)
    changes = 2_000  # a month
    # each change: the index item (1 write unit, 700 B), the feed's counter and entry (2), and the
    # writer's consistent read of the item's version (1 read unit)
    assert cost.change_writes == pytest.approx(changes * (3 * 0.625 + 1 * 0.125) / 1e6)
    # 10 ListSecrets pages every 900 s; per change a GetSecretValue and a consistent GetItem; a daily
    # full pass: 1,000 consistent GetItems and a scan of 1,000 x 700 B = 700,000 B: 171 x 4 KB, halved
    runs = MONTH / 900
    full_units = (1_000 + 171 * 0.5) * MONTH / 86_400
    expected = (10 * runs + changes) * 0.000005 + (changes + full_units) * 0.125 / 1e6
    assert cost.reconciliation == pytest.approx(expected)
    assert cost.secrets == pytest.approx(1_000 * 0.40)
    assert cost.authorizer_total == pytest.approx(cost.request_path + cost.secrets + cost.apart)


def test_the_feed_partition_bounds_containers_and_changes() -> None:
    cost = shared.shared_cost(small())
    # 3,000 read units / (half a unit per read, one read a second) = 6,000 serving containers
    assert cost.max_feed_containers == pytest.approx(6_000)
    # 1,000 write units / 2 per change = 500 changes a second
    assert cost.max_changes_per_s == pytest.approx(500)
    churn = Workload(rps=100, clients=1_000_000, changes_per_client_month=2_000, concurrency=2)
    # 1,000,000 x 2,000 / 2,628,000 = 761 changes/s: past the partition, and each feed read holds
    # 761 entries x 120 B = 91 KB: 23 x 4 KB, halved
    assert shared.feed_read_units(churn) == pytest.approx(0.5 * 23)
    assert any("feed's one partition" in warning for warning in plan(churn).warnings)
    assert not any("feed" in warning for warning in plan(small()).warnings)


def test_revocation_bounds() -> None:
    w = small()
    interval, lag, fallback = FEED_INTERVAL_SECONDS, shared.CONSISTENCY_LAG_SECONDS, FEED_FALLBACK_SECONDS
    feed_down = fallback + w.fallback_ttl  # 10 + 30 s: the fallback, then its TTL
    # DynamoDB down: an entry fetched within the fallback TTL answers until it is max_stale old
    assert shared.revocation_bounds(w) == (interval + lag, feed_down, w.fallback_ttl + w.max_stale)
    # the stack states the bound with the feed down, the index readable
    assert shared.revocation_bounds(w)[1] == StackSettings().revocation_bound_seconds
    # with a short max_stale, the fallback bounds it
    assert shared.revocation_bounds(replace(w, max_stale=5))[2] == feed_down
    # API Gateway's cache serves a cached allow for its TTL first
    assert shared.revocation_bounds(replace(w, api_cache_ttl=300)) == (300 + interval + lag, 300 + 40, 300 + 330)


@pytest.mark.parametrize("workload", [Workload(rps=1_000, clients=10_000), Workload(rps=5_000, clients=100_000)])
def test_the_worked_cases_meet_both_targets_where_0_2_did_not(workload: Workload) -> None:
    result = plan(workload)
    assert result.shared.backend_share <= shared.BACKEND_SHARE_TARGET
    assert result.shared.floor_ratio <= shared.FLOOR_RATIO_TARGET
    assert result.shared.index_reads_per_s + result.shared.feed_reads_per_s < result.before.secrets_calls_per_s / 20
    assert result.before.backend_share > 1 and result.before.floor_ratio > 20
    assert result.warnings == []


def test_prices_per_read_and_write() -> None:
    p = Prices()
    assert shared.read_units(700, consistent=False) == 0.5 and shared.read_units(4097, consistent=True) == 2
    assert shared.write_units(700) == 1 and shared.write_units(1025) == 2
    # an eventually consistent GetItem is 80 times cheaper than a GetSecretValue
    assert p.per_call / (0.5 * p.dynamodb_per_million_rru / 1e6) == pytest.approx(80)

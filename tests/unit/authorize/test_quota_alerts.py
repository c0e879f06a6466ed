"""Which thresholds a quota counter has reached, in whole numbers, and that a container notes each
once per period and claims it at its flush, keeping what it could not claim."""

from __future__ import annotations

from typing import Any

import pytest

from tokengate_core.authorize.quota_alerts import Crossing, QuotaAlerts, crossed
from tokengate_core.authorize.usage import UsageUnavailable


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (7, 10, []),
        (8, 10, [80]),
        (9, 10, [80, 90]),
        (10, 10, [80, 90, 100]),
        (799_999_999_999, 10**12, []),  # no float rounding at the largest quota
        (800_000_000_000, 10**12, [80]),
        (1, 3, []),
        (3, 3, [80, 90, 100]),
    ],
)
def test_crossed_is_exact(used: int, limit: int, expected: list[int]) -> None:
    assert crossed(used, limit, (80, 90, 100)) == expected


class Claims:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.claimed: set[tuple[str, str, int]] = set()

    def claim_threshold(self, key_id: str, period: str, threshold: int, expires: int) -> bool:
        if self.fail:
            raise UsageUnavailable("down")
        key = (key_id, period, threshold)
        created = key not in self.claimed
        self.claimed.add(key)
        return created


class Events:
    def __init__(self) -> None:
        self.published: list[Any] = []

    def publish(self, events: Any) -> None:
        self.published.extend(events)

    def refused(self, detail_type: Any, client_id: str, reason: str) -> None:
        raise AssertionError(reason)


def alerts(claims: Claims, events: Events) -> QuotaAlerts:
    return QuotaAlerts(lambda: claims, lambda: events, lambda key_id: ("acme", "metered"))


def test_two_containers_one_event_per_threshold() -> None:
    claims, events = Claims(), Events()
    first, second = alerts(claims, events), alerts(claims, events)
    for container in (first, second):
        container.observe(Crossing("k" * 20, "2026-11-25", 0, 9, 10, 0), (80, 90, 100))
        container.observe(Crossing("k" * 20, "2026-11-25", 0, 9, 10, 0), (80, 90, 100))  # noted once
        container.flush()
    assert sorted(e.extra["threshold"] for e in events.published) == [80, 90]
    assert first.told + second.told == 2


def test_a_failed_claim_is_kept_for_the_next_flush() -> None:
    claims, events = Claims(fail=True), Events()
    container = alerts(claims, events)
    container.observe(Crossing("k" * 20, "2026-11", 0, 10, 10, 0), (100,))
    container.flush()
    assert events.published == [] and len(container.pending) == 1
    claims.fail = False
    container.flush()
    assert [e.extra["threshold"] for e in events.published] == [100] and container.pending == []

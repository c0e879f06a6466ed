"""Client Quota Threshold events: each threshold of a client's quota told once per period, across
any number of containers, off the request's decision (at the counter flush, or SIGTERM); a
failing DynamoDB never fails a decision and loses no threshold; bad thresholds are refused."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import EventSink, FakeClock, call_admin, issue
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import TokenAuthorizer
from tokengate_core.authorize.usage import FLUSH_SECONDS
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"
MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def sink() -> EventSink:
    return EventSink()


def container(clock: FakeClock) -> TokenAuthorizer:
    settings = AuthorizerSettings(usage_timeout_seconds=5.0)
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock)


def thresholds_told(sink: EventSink) -> list[dict[str, Any]]:
    return [e["detail"] for e in sink.drain() if e["detail-type"] == DetailType.QUOTA_THRESHOLD]


def run(fleet: list[TokenAuthorizer], clock: FakeClock, token: str, requests: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    for i in range(requests):
        outcomes[fleet[i % len(fleet)].decide(token, "GET", "ANY /invoke").reason.value] += 1
        clock.advance(0.25)
    return outcomes


def test_each_threshold_is_told_once_per_period_across_sixteen_containers(sink: EventSink) -> None:
    client_id, token = issue("acme", "metered", quota={"limit": 200, "period": "day"})
    sink.drain()
    clock = FakeClock(now=MORNING)
    fleet = [container(clock) for _ in range(16)]
    outcomes = run(fleet, clock, token, 400)
    assert outcomes["allowed"] <= 200 and outcomes["quota_exhausted"] >= 200
    for authz in fleet:
        authz.drain(5.0)  # the containers end: whatever is pending is told now
    told = thresholds_told(sink)
    assert sorted(d["threshold"] for d in told) == [80, 90, 100]
    for detail in told:
        assert detail["client_id"] == client_id and detail["tenant"] == "acme" and detail["client_name"] == "metered"
        assert detail["quota_limit"] == 200 and detail["period"] == "2026-11-25"
        assert detail["quota_used"] * 100 >= detail["threshold"] * 200
        assert detail["actor"] == "usage-control"
    assert token not in "\n".join(sink.raw) and tokens.digest(token).hex() not in "\n".join(sink.raw)

    # More containers, more requests, the same day: nothing more to tell.
    fresh = [container(clock) for _ in range(4)]
    run(fresh, clock, token, 40)
    for authz in fresh:
        authz.drain(5.0)
    assert thresholds_told(sink) == []


def test_the_next_period_tells_again(sink: EventSink) -> None:
    _, token = issue("acme", "daily", quota={"limit": 10, "period": "day", "thresholds": [50]})
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    run([authz], clock, token, 6)
    authz.drain(5.0)
    clock.now = MORNING + 86400
    run([authz], clock, token, 6)
    authz.drain(5.0)
    told = thresholds_told(sink)
    assert [(d["threshold"], d["period"]) for d in told] == [(50, "2026-11-25"), (50, "2026-11-26")]


def test_an_event_waits_for_the_flush_not_the_request(sink: EventSink, emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "patient", quota={"limit": 10, "period": "day", "thresholds": [50]})
    sink.drain()
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    for _ in range(6):
        authz.decide(token, "GET", "ANY /invoke")
    assert thresholds_told(sink) == []  # crossed, but the counts are not due yet
    clock.advance(FLUSH_SECONDS)
    authz.decide(token, "GET", "ANY /invoke")  # its counts are due: flushed, and the threshold told
    assert [d["threshold"] for d in thresholds_told(sink)] == [50]


def test_no_thresholds_no_events_and_a_client_without_a_quota_never_claims(
    sink: EventSink, emulator: SecretsManagerEmulator
) -> None:
    _, quiet = issue("acme", "quiet", quota={"limit": 10, "period": "day", "thresholds": []})
    _, free = issue("acme", "free")
    sink.drain()
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    run([authz], clock, quiet, 20)
    run([authz], clock, free, 20)
    authz.drain(5.0)
    assert thresholds_told(sink) == []


def test_a_failing_dynamodb_fails_no_decision_and_the_threshold_is_told_once_it_is_back(
    sink: EventSink, emulator: SecretsManagerEmulator
) -> None:
    _, token = issue("acme", "shaky", quota={"limit": 10, "period": "day", "thresholds": [50]})
    sink.drain()
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    run([authz], clock, token, 6)
    emulator.inject(Fault("error", operations=frozenset({"UpdateItem"}), service=DYNAMODB))
    try:
        assert authz.drain(5.0) > 0  # neither the counts nor the claim could be written
    finally:
        emulator.inject(None)
    assert thresholds_told(sink) == []
    authz.drain(5.0)
    assert [d["threshold"] for d in thresholds_told(sink)] == [50]


@pytest.mark.parametrize(
    "thresholds",
    [[0], [101], [-5], [80.5], ["80"], [True], [90, 80], [80, 80], [10, 20, 30, 40, 50, 60], "80", {"a": 1}],
)
def test_nonsense_thresholds_are_a_422_and_change_nothing(thresholds: Any) -> None:
    response = call_admin(
        "POST", BASE, {"client_name": "nonsense", "quota": {"limit": 10, "period": "day", "thresholds": thresholds}}
    )
    assert response.status == 422, response.body
    assert call_admin("GET", BASE, query={"name": "nonsense"}).body["items"] == []


def test_thresholds_are_shown_and_changed_with_the_quota() -> None:
    client_id, _ = issue("acme", "tuned", quota={"limit": 10, "period": "month"})
    assert call_admin("GET", f"{BASE}/{client_id}").body["quota"]["thresholds"] is None
    changed = call_admin(
        "PATCH", f"{BASE}/{client_id}", {"quota": {"limit": 10, "period": "month", "thresholds": [95]}}
    )
    assert changed.status == 200, changed.body
    assert changed.body["quota"]["thresholds"] == [95]

"""Usage control against the embedded DynamoDB: rate limits, quotas and allowlists across several
authorizer containers, what they cost, how they fail, and the admin API around them."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import FakeClock, FakeContext, call_admin, issue, rewrite_index_doc
from tokengate.emulator import Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.authorize.usage import FLUSH_SECONDS, RateBucket, period_of
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.runtime.aws import make_store, make_usage_backend

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"
#: Mid-morning UTC, so that a test's simulated minutes never cross a day boundary by accident.
MORNING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC).timestamp()


def container(clock: FakeClock, **overrides: Any) -> TokenAuthorizer:
    """An authorizer container on a simulated clock. DynamoDB's timeout is generous here, so that a
    busy test machine is never mistaken for a failing DynamoDB (which fails rate limits open)."""
    settings = AuthorizerSettings(**{"usage_timeout_seconds": 5.0, **overrides})
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock)


#: The usage gate's calls (the client's lookups read the digest index with GetItem and Query).
USAGE_CALLS = frozenset({"UpdateItem"})


def offer(
    authorizers: list[TokenAuthorizer], clock: FakeClock, token: str, per_second: float, seconds: float, **request: Any
) -> dict[str, int]:
    """``per_second`` requests a second, round robin over the containers, in simulated time."""
    outcomes: dict[str, int] = {}
    step = 1.0 / per_second
    for i in range(int(per_second * seconds)):
        decision = authorizers[i % len(authorizers)].decide(token, "GET", "ANY /invoke", "/invoke", **request)
        assert not decision.degraded, "DynamoDB answered every call"
        outcomes[decision.reason.value] = outcomes.get(decision.reason.value, 0) + 1
        clock.advance(step)
    return outcomes


def test_a_client_without_a_policy_costs_only_its_hourly_last_use_write(emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "free")
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    emulator.reset_counts()
    assert offer([authz], clock, token, 200, 5) == {"allowed": 1000}
    # Its only DynamoDB calls: the feed's head and the client's index item once, the feed at most
    # once a second, and its last use once (once an hour per container).
    assert emulator.calls("dynamodb:UpdateItem") == 1
    assert emulator.calls("dynamodb:GetItem") == 2 and emulator.calls("dynamodb:Query") <= 6


@pytest.mark.parametrize("containers", [1, 4])
def test_a_rate_limit_holds_across_containers(emulator: SecretsManagerEmulator, containers: int) -> None:
    _, token = issue("acme", "limited", rate_limit={"requests_per_second": 20, "burst": 10})
    clock = FakeClock(now=MORNING)
    authorizers = [container(clock) for _ in range(containers)]
    outcomes = offer(authorizers, clock, token, 60, 20)  # three times the limit for 20 s
    expected = 20 * 20 + 10
    assert 0.9 <= outcomes["allowed"] / expected <= 1.1, outcomes
    assert outcomes["rate_limited"] == 60 * 20 - outcomes["allowed"]


def test_a_busy_container_makes_one_dynamodb_call_per_ten_allowed_requests(emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "busy", rate_limit={"requests_per_second": 1000, "burst": 100})
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    emulator.reset_counts()
    outcomes = offer([authz], clock, token, 200, 5)
    assert outcomes == {"allowed": 1000}
    assert emulator.dynamodb_calls() <= 1000 / 10


def test_a_refused_lease_costs_one_dynamodb_call_and_a_partial_one_two(emulator: SecretsManagerEmulator) -> None:
    """A refusal comes back with the item (ReturnValuesOnConditionCheckFailure), so what is left is
    known without a read."""
    backend = make_usage_backend(AuthorizerSettings(usage_timeout_seconds=5.0))
    bucket = RateBucket("k" * 20, 0, per_second=1.0, burst=5)

    def cost(take: Any, *args: Any) -> tuple[Any, int, int]:
        emulator.reset_counts()
        result = take(*args)
        return result, emulator.calls("dynamodb:UpdateItem"), emulator.calls("dynamodb:GetItem")

    assert cost(backend.take_rate, bucket, 5, MORNING) == ((5, 0.0), 1, 0)  # a full bucket
    assert cost(backend.take_rate, bucket, 3, MORNING) == ((0, MORNING + 3), 1, 0)  # empty: when 3 are due
    assert cost(backend.take_rate, bucket, 3, MORNING + 2) == ((2, 0.0), 2, 0)  # two have accrued
    expires = int(MORNING) + 86400
    assert cost(backend.take_quota, "k" * 20, "2026-11-25", 5, 7, expires) == ((5, 5), 1, 0)
    assert cost(backend.take_quota, "k" * 20, "2026-11-25", 5, 7, expires) == ((2, 7), 2, 0)
    assert cost(backend.take_quota, "k" * 20, "2026-11-25", 5, 7, expires) == ((0, 7), 1, 0)


def test_a_quota_is_never_exceeded_and_resets_with_its_period(emulator: SecretsManagerEmulator) -> None:
    _, token = issue("acme", "metered", quota={"limit": 7, "period": "day"})
    clock = FakeClock(now=MORNING)
    authorizers = [container(clock) for _ in range(3)]
    outcomes = offer(authorizers, clock, token, 5, 10)
    assert outcomes == {"allowed": 7, "quota_exhausted": 43}
    _, day_end = period_of("day", clock.now)
    clock.now = day_end + 1
    outcomes = offer(authorizers, clock, token, 5, 4)
    assert outcomes["allowed"] == 7


def test_calendar_periods_are_utc() -> None:
    assert period_of("day", datetime(2026, 12, 31, 23, 59, tzinfo=UTC).timestamp()) == (
        "2026-12-31",
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    assert period_of("month", datetime(2026, 12, 15, tzinfo=UTC).timestamp()) == (
        "2026-12",
        datetime(2027, 1, 1, tzinfo=UTC).timestamp(),
    )
    assert (
        period_of("month", datetime(2026, 2, 28, tzinfo=UTC).timestamp())[1]
        == datetime(2026, 3, 1, tzinfo=UTC).timestamp()
    )


@pytest.mark.parametrize(
    ("source_ip", "allowed"),
    [
        ("203.0.113.7", True),
        ("198.51.100.200", True),
        ("2001:db8::1", True),
        ("203.0.114.1", False),
        ("2001:db9::1", False),
        ("", False),
        (None, False),
        ("not-an-ip", False),
        ("203.0.113.7\n", False),
    ],
)
def test_an_allowlist_admits_only_its_networks(source_ip: str | None, allowed: bool) -> None:
    cidrs = ["203.0.113.0/24", "198.51.100.128/25", "2001:db8::/32"]
    _, token = issue("acme", "fenced", allowed_cidrs=cidrs)
    authz = container(FakeClock(now=MORNING))
    reason = authz.decide(token, "GET", "ANY /invoke", "/invoke", source_ip).reason
    assert reason is (Reason.ALLOWED if allowed else Reason.IP_NOT_ALLOWED)


def test_tell_integration_lets_a_limited_request_through_to_answer_429() -> None:
    _, token = issue("acme", "polite", rate_limit={"requests_per_second": 1, "burst": 1}, on_limit="tell_integration")
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    first = authz.decide(token, "GET", "ANY /invoke")
    second = authz.decide(token, "GET", "ANY /invoke")
    assert first.allowed and first.context is not None and "usage_limited" not in first.context
    assert second.allowed and second.context is not None
    assert second.context["usage_limited"] == "rate_limited"
    assert int(second.context["retry_after"]) >= 1

    from main import app as main_app

    event = {
        "version": "2.0",
        "routeKey": "ANY /invoke",
        "rawPath": "/invoke",
        "headers": {},
        "requestContext": {"authorizer": {"lambda": second.context}, "http": {"method": "GET"}},
    }
    response = main_app.handler(event, FakeContext())
    assert response["statusCode"] == 429
    assert response["headers"]["retry-after"] == second.context["retry_after"]


def test_every_route_behind_the_authorizer_answers_a_told_limit_before_any_work(
    emulator: SecretsManagerEmulator,
) -> None:
    """A tell_integration client over its limit gets 429 from whichever route it calls: the
    integration answers before reading anything (GET /token would otherwise read the secret)."""
    from tests.integration.test_token_delivery import delivery_event
    from tokengate_core.deployment.routes import ROUTES

    _, token = issue(
        "acme",
        "polite",
        scopes=["*"],
        token_fetch=True,
        quota={"limit": 1, "period": "day"},
        on_limit="tell_integration",
    )
    authz = container(FakeClock(now=MORNING))
    handlers = {"main": _main, "delivery": _delivery}
    routes = [route for route in ROUTES if route.authorization == "CUSTOM"]
    assert {route.function for route in routes} == set(handlers), "a new route behind the authorizer: add it here"
    assert authz.decide(token, "GET", "ANY /invoke").context is not None  # the day's one allowed request
    for route in routes:
        method = "GET" if route.method == "ANY" else route.method
        decision = authz.decide(token, method, route.route_key, route.path)
        assert decision.allowed and decision.context is not None and decision.context["usage_limited"]
        event = delivery_event(token, decision.context)
        event["routeKey"] = event["requestContext"]["routeKey"] = route.route_key
        emulator.reset_counts()
        answer = handlers[route.function](event)
        assert answer["statusCode"] == 429, (route, answer)
        assert json.loads(answer["body"]) == {"message": "Too Many Requests", "reason": "quota_exhausted"}
        assert int(answer["headers"]["retry-after"]) >= 1
        assert emulator.calls() == 0, "answered before any read"


def _main(event: dict[str, Any]) -> dict[str, Any]:
    from main import app as main_app

    return main_app.handler(event, FakeContext())


def _delivery(event: dict[str, Any]) -> dict[str, Any]:
    from delivery import app as delivery_app

    return delivery_app.handler(event, None)


def test_requests_told_they_are_limited_are_counted_as_limited() -> None:
    """The integration answers them 429: the usage report counts them by reason, not as allowed."""
    client_id, token = issue(
        "acme", "polite", rate_limit={"requests_per_second": 1, "burst": 1}, on_limit="tell_integration"
    )
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    decisions = [authz.decide(token, "GET", "ANY /invoke") for _ in range(4)]
    assert all(d.allowed for d in decisions) and sum("usage_limited" in (d.context or {}) for d in decisions) == 3
    clock.advance(FLUSH_SECONDS)
    authz.decide(token, "GET", "ANY /invoke")  # allowed (the bucket refilled), and flushes every count so far
    start = datetime.fromtimestamp(MORNING, UTC)
    query = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    (bucket,) = call_admin("GET", f"{BASE}/{client_id}/usage", query=query).body["buckets"]
    assert (bucket["allowed"], bucket["denied"]) == (2, {"rate_limited": 3})


def test_an_ip_outside_the_allowlist_is_refused_even_with_tell_integration() -> None:
    _, token = issue("acme", "fenced", allowed_cidrs=["10.0.0.0/8"], on_limit="tell_integration")
    decision = container(FakeClock(now=MORNING)).decide(token, "GET", "ANY /invoke", "/invoke", "192.0.2.1")
    assert decision.reason is Reason.IP_NOT_ALLOWED


@pytest.mark.parametrize("kind", ["throttle", "error"])
def test_dynamodb_failures_fail_open_for_rates_closed_for_quotas_and_cost_bounded_calls(
    emulator: SecretsManagerEmulator, kind: str
) -> None:
    _, rated = issue("acme", "rated", rate_limit={"requests_per_second": 1, "burst": 1})
    _, metered = issue("acme", "metered", quota={"limit": 1000, "period": "month"})
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    emulator.inject(Fault(kind, service="dynamodb", operations=USAGE_CALLS))  # type: ignore[arg-type]
    emulator.reset_counts()
    for _ in range(100):
        rate = authz.decide(rated, "GET", "ANY /invoke")
        quota = authz.decide(metered, "GET", "ANY /invoke")
        assert rate.allowed and rate.degraded
        assert quota.reason is Reason.QUOTA_EXHAUSTED and quota.degraded
        clock.advance(0.05)
    assert emulator.calls("dynamodb:UpdateItem") <= 4  # one try per policy, then one negative TTL of backoff
    emulator.inject(None)
    clock.advance(10)
    assert authz.decide(metered, "GET", "ANY /invoke").reason is Reason.ALLOWED


def test_the_failure_rules_are_settings(emulator: SecretsManagerEmulator) -> None:
    _, rated = issue("acme", "rated", rate_limit={"requests_per_second": 1, "burst": 1})
    _, metered = issue("acme", "metered", quota={"limit": 1000, "period": "month"})
    authz = container(FakeClock(now=MORNING), rate_limit_fail_open=False, quota_fail_open=True)
    emulator.inject(Fault("error", service="dynamodb", operations=USAGE_CALLS))
    assert authz.decide(rated, "GET", "ANY /invoke").reason is Reason.RATE_LIMITED
    assert authz.decide(metered, "GET", "ANY /invoke").allowed


def test_a_hanging_dynamodb_is_cut_off_and_never_raises(emulator: SecretsManagerEmulator) -> None:
    _, metered = issue("acme", "metered", quota={"limit": 10, "period": "day"})
    authz = container(FakeClock(now=MORNING), usage_timeout_seconds=0.2)
    emulator.inject(Fault("hang", service="dynamodb", operations=USAGE_CALLS, hang_seconds=2.0))
    try:
        decision = authz.decide(metered, "GET", "ANY /invoke")
    finally:
        emulator.inject(None)
        emulator.wait_idle()
    assert decision.reason is Reason.QUOTA_EXHAUSTED and decision.degraded


# -- usage counts and the admin API -------------------------------------------------------------


def test_usage_reports_allowed_and_denied_counts_by_reason() -> None:
    client_id, token = issue(
        "acme", "counted", scopes=["GET /invoke"], rate_limit={"requests_per_second": 1, "burst": 2}
    )
    clock = FakeClock(now=MORNING)
    authz = container(clock)
    for _ in range(5):
        authz.decide(token, "GET", "ANY /invoke")  # 2 allowed, 3 rate limited
    authz.decide(token, "POST", "ANY /nope")  # out of scope is a denial too
    clock.advance(FLUSH_SECONDS)
    authz.decide(token, "GET", "ANY /invoke")  # due: flushes everything counted so far
    start = datetime.fromtimestamp(MORNING, UTC)
    query = {"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat()}
    report = call_admin("GET", f"{BASE}/{client_id}/usage", query=query)
    assert report.status == 200, report.body
    (bucket,) = report.body["buckets"]
    assert bucket["start"].startswith("2026-11-25T09:00:00")
    assert bucket["allowed"] == 3
    assert bucket["denied"] == {"out_of_scope": 1, "rate_limited": 3}
    daily = call_admin("GET", f"{BASE}/{client_id}/usage", query={**query, "granularity": "day"}).body
    assert [b["allowed"] for b in daily["buckets"]] == [3]


def test_usage_is_tenant_scoped_and_its_range_checked() -> None:
    client_id, _ = issue("acme", "counted", quota={"limit": 5, "period": "day"})
    assert call_admin("GET", f"/admin/tenants/globex/clients/{client_id}/usage").status == 404
    now = datetime.now(UTC)
    backwards = {"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()}
    assert call_admin("GET", f"{BASE}/{client_id}/usage", query=backwards).status == 400
    too_wide = {"from": (now - timedelta(days=60)).isoformat(), "to": now.isoformat()}
    assert call_admin("GET", f"{BASE}/{client_id}/usage", query=too_wide).status == 400
    assert call_admin("GET", f"{BASE}/{client_id}/usage", query={"granularity": "week"}).status == 422
    assert call_admin("GET", f"{BASE}/{client_id}/usage").body["buckets"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rate_limit", {"requests_per_second": 0, "burst": 1}),
        ("rate_limit", {"requests_per_second": -5, "burst": 1}),
        ("rate_limit", {"requests_per_second": 5, "burst": 0}),
        ("rate_limit", {"requests_per_second": 5}),
        ("rate_limit", {"requests_per_second": "fast", "burst": 1}),
        ("rate_limit", {"requests_per_second": 5, "burst": 1, "window": 3}),
        ("quota", {"limit": 0, "period": "day"}),
        ("quota", {"limit": 10, "period": "week"}),
        ("quota", {"limit": 10}),
        ("allowed_cidrs", []),
        ("allowed_cidrs", ["0.0.0.0/0"]),
        ("allowed_cidrs", ["::/0"]),
        ("allowed_cidrs", ["10.0.0.1/8"]),
        ("allowed_cidrs", ["10.0.0.0/33"]),
        ("allowed_cidrs", ["not a network"]),
        ("allowed_cidrs", ["10.0.0.0/8"] * 65),
        ("on_limit", "shout"),
    ],
)
def test_hostile_policies_are_refused_naming_the_field(field: str, value: Any) -> None:
    response = call_admin("POST", BASE, {"client_name": "x", field: value})
    assert response.status == 422, response.body
    assert response.body["code"] == "validation_error"
    assert any(field in detail["loc"] for detail in response.body["details"])
    assert call_admin("GET", BASE).body["items"] == []


def test_policies_are_shown_updated_and_cleared_with_null() -> None:
    client_id, token = issue(
        "acme",
        "shaped",
        rate_limit={"requests_per_second": 2.5, "burst": 5},
        quota={"limit": 100, "period": "month"},
        allowed_cidrs=["10.1.0.0/16"],
    )
    shown = call_admin("GET", f"{BASE}/{client_id}").body
    assert shown["rate_limit"] == {"requests_per_second": 2.5, "burst": 5}
    assert shown["quota"] == {"limit": 100, "period": "month", "thresholds": None}
    assert shown["allowed_cidrs"] == ["10.1.0.0/16"]
    assert shown["on_limit"] == "deny"
    patched = call_admin("PATCH", f"{BASE}/{client_id}", {"rate_limit": None, "allowed_cidrs": None})
    assert patched.status == 200
    assert patched.body["rate_limit"] is None and patched.body["allowed_cidrs"] is None
    assert patched.body["quota"] == {"limit": 100, "period": "month", "thresholds": None}
    authz = container(FakeClock(now=MORNING))
    assert authz.decide(token, "GET", "ANY /invoke", "/invoke", "192.0.2.1").allowed  # no allowlist now


def test_policies_are_refused_where_the_deployment_cannot_enforce_them(monkeypatch: pytest.MonkeyPatch) -> None:
    from admin import app as admin_app

    monkeypatch.setattr(
        admin_app.admin_context,
        "settings",
        admin_app.admin_context.settings.model_copy(update={"usage_control": False}),
    )
    refused = call_admin("POST", BASE, {"client_name": "x", "quota": {"limit": 5, "period": "day"}})
    assert refused.status == 400 and refused.body["code"] == "usage_control_disabled"
    assert call_admin("POST", BASE, {"client_name": "x"}).status == 201


def test_a_stored_policy_the_reader_refuses_is_a_corrupt_record() -> None:
    client_id, token = issue("acme", "tampered", quota={"limit": 5, "period": "day"})
    rewrite_index_doc(client_id, lambda doc: doc.update(allowed_cidrs=["0.0.0.0/0"]))
    assert container(FakeClock(now=time.time())).decide(token, "GET", "ANY /invoke").reason is Reason.CORRUPT_RECORD

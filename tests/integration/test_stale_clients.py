"""Stale clients: the sweep's Client Stale for enabled clients unused for stale_after_days, off by
default; with stale_action disable the client is disabled as the admin API does it (audited, a
Client Updated event) and enabling it undoes that. Run through the sweep's real handler, in a
container of the local runtime with the deployment's settings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import EventSink, call_admin, issue
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, function_environment
from tokengate_core.authorize.decision import TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings, SweepSettings
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_SWEEP
from tokengate_core.lifecycle.stale import StaleCheck
from tokengate_core.records.store import SecretSummary
from tokengate_core.runtime.aws import make_store, make_usage_backend

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"
DAY = 86400.0
SCHEDULE = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def sweep(**env: str) -> dict[str, Any]:
    runtime = FunctionRuntime("sweep", function_environment("sweep", env), "us-east-1", "1" * 12)
    try:
        result = runtime.invoke(SCHEDULE)
    finally:
        runtime.shutdown()
    assert result.ok, result.error
    assert isinstance(result.value, dict)
    return result.value


def used(client_id: str, days_ago: float) -> None:
    make_usage_backend(AuthorizerSettings()).mark_used(client_id, time.time() - days_ago * DAY)


def allowed(token: str) -> bool:
    settings = AuthorizerSettings()
    return TokenAuthorizer(settings, lambda: make_store(settings)).decide(token, "GET", "ANY /invoke").allowed


def stale_events(sink: EventSink) -> dict[str, dict[str, Any]]:
    return {e["detail"]["client_name"]: e["detail"] for e in sink.drain() if e["detail-type"] == DetailType.STALE}


@pytest.fixture(scope="module", autouse=True)
def sweep_logger_first() -> None:
    """One sweep before any test's log capture: the function's Powertools logger must hold the first
    handler of its logger (Powertools formats with the first), not the capture the test attaches."""
    sweep()


@pytest.fixture
def fleet() -> dict[str, tuple[str, str]]:
    made = {name: issue("acme", name) for name in ("idle", "busy", "fresh", "paused")}
    used(made["idle"][0], 40)
    used(made["busy"][0], 1)
    used(made["paused"][0], 40)
    assert call_admin("PATCH", f"{CLIENTS}/{made['paused'][0]}", {"enabled": False}).status == 200
    return made


def test_off_by_default(fleet: dict[str, tuple[str, str]]) -> None:
    sink = EventSink()
    sink.drain()
    report = sweep()
    assert report["stale"] == 0
    assert stale_events(sink) == {}


def test_an_enabled_client_unused_too_long_is_told_daily_and_left_enabled(fleet: dict[str, tuple[str, str]]) -> None:
    sink = EventSink()
    sink.drain()
    assert sweep(TOKENGATE_STALE_AFTER_DAYS="30")["stale"] == 1
    told = stale_events(sink)
    assert set(told) == {"idle"}  # not the recent, the never used but new, nor the disabled one
    detail = told["idle"]
    assert detail["actor"] == ACTOR_SCHEDULED_SWEEP and detail["action"] == "none"
    assert detail["stale_after_days"] == 30 and detail["last_used_at"].endswith("Z")
    assert set(stale_events(sink)) == set()  # nothing new until the next run
    sweep(TOKENGATE_STALE_AFTER_DAYS="30")
    assert set(stale_events(sink)) == {"idle"}
    assert allowed(fleet["idle"][1])  # still enabled; and now used, so no longer stale
    assert sweep(TOKENGATE_STALE_AFTER_DAYS="30")["stale"] == 0


def test_stale_action_disable_disables_audits_and_is_undone_by_enabling(
    fleet: dict[str, tuple[str, str]], captured_logs: Any
) -> None:
    sink = EventSink()
    sink.drain()
    report = sweep(TOKENGATE_STALE_AFTER_DAYS="30", TOKENGATE_STALE_ACTION="disable")
    assert report["stale"] == report["stale_disabled"] == 1
    events = sink.drain()
    kinds = {(e["detail-type"], e["detail"]["client_name"]) for e in events}
    assert kinds == {(DetailType.STALE, "idle"), (DetailType.UPDATED, "idle")}
    updated = next(e["detail"] for e in events if e["detail-type"] == DetailType.UPDATED)
    assert updated["changed"] == ["enabled"] and updated["actor"] == ACTOR_SCHEDULED_SWEEP
    assert '"audit_action":"update"' in captured_logs()
    idle_id, idle_token = fleet["idle"]
    assert call_admin("GET", f"{CLIENTS}/{idle_id}").body["status"] == "disabled"
    assert not allowed(idle_token)
    assert call_admin("PATCH", f"{CLIENTS}/{idle_id}", {"enabled": True}).status == 200
    assert allowed(idle_token)  # and the use is its last use: no longer stale
    assert sweep(TOKENGATE_STALE_AFTER_DAYS="30", TOKENGATE_STALE_ACTION="disable")["stale"] == 0


def test_a_failing_dynamodb_judges_nobody_and_fails_nothing(
    fleet: dict[str, tuple[str, str]], emulator: SecretsManagerEmulator
) -> None:
    emulator.inject(Fault("error", operations=frozenset({"BatchGetItem"}), service=DYNAMODB))
    try:
        report = sweep(TOKENGATE_STALE_AFTER_DAYS="30", TOKENGATE_STALE_ACTION="disable")
    finally:
        emulator.inject(None)
    assert report["stale_unchecked"] is True and report["stale"] == 0
    assert call_admin("GET", f"{CLIENTS}/{fleet['idle'][0]}").body["status"] == "active"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKENGATE_STALE_AFTER_DAYS", "0"),
        ("TOKENGATE_STALE_AFTER_DAYS", "-3"),
        ("TOKENGATE_STALE_AFTER_DAYS", "1.5"),
        ("TOKENGATE_STALE_AFTER_DAYS", "99999"),
        ("TOKENGATE_STALE_ACTION", "delete"),
    ],
)
def test_nonsense_stale_settings_stop_the_start_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(Exception, match=name):
        SweepSettings.from_env({name: value})


def summary(key_id: str, created_days_ago: float, *, enabled: bool = True) -> SecretSummary:
    now = datetime.now(UTC)
    return SecretSummary(
        key_id, "acme", key_id, enabled, None, now - timedelta(days=created_days_ago), None, None, None, None, None, {}
    )


def test_a_client_never_used_counts_from_its_creation() -> None:
    check = StaleCheck(lambda ids: {}, after_days=30)
    found = check.stale([summary("old", 31), summary("new", 29), summary("off", 99, enabled=False)], datetime.now(UTC))
    assert [(s.key_id, last) for s, last in found] == [("old", None)]

"""Scheduled rotation with a controllable clock: the local scheduler invokes the real rotation
handler through the local Lambda runtime, against the embedded Secrets Manager, on the schedule
Secrets Manager documents for rate() expressions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import FakeClock
from tests.unit.local.issuing import ACTOR, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, Invocation, function_environment
from tokengate.local.scheduler import STEPS, RotationScheduler
from tokengate_core.admin import clients
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings, RotationSettings
from tokengate_core.records.schedule import window_opens
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_registry, make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

#: A rotation schedule needs a delivery path: here GET /token, with a grace shorter than a day.
FETCHED = {"token_fetch": True, "grace_seconds": 3600}
KEYRING = keyring.secret_name(AdminSettings().secret_prefix)


@pytest.fixture
def store(emulator: SecretsManagerEmulator) -> SecretsStore:
    return make_store(RotationSettings())


@pytest.fixture
def rotation() -> Iterator[FunctionRuntime]:
    runtime = FunctionRuntime("rotation", function_environment("rotation", {}), "us-east-1", "123456789012")
    yield runtime
    runtime.shutdown()


# -- scheduled rotation -------------------------------------------------------------------------------


def noon_days_ago(days: int) -> datetime:
    """Noon UTC, ``days`` days before today: far enough from midnight that a window boundary shows."""
    today = datetime.now(UTC).date() - timedelta(days=days)
    return datetime(today.year, today.month, today.day, 12, tzinfo=UTC)


@pytest.fixture
def dated(emulator: SecretsManagerEmulator) -> tuple[AdminContext, FakeClock]:
    """The admin context on a clock that starts at noon ten days ago and moves only when told."""
    settings = AdminSettings()
    clock = FakeClock(noon_days_ago(10).timestamp())
    store, registry = make_store(settings), make_registry(settings)
    return AdminContext(store=store, settings=settings, registry=registry, clock=clock), clock


def test_due_clients_are_rotated_through_the_four_steps_of_a_staged_version(
    emulator: SecretsManagerEmulator,
    dated: tuple[AdminContext, FakeClock],
    store: SecretsStore,
    rotation: FunctionRuntime,
) -> None:
    admin, _ = dated
    events: list[dict[str, Any]] = []
    staged: list[list[str]] = []

    def invoke(event: dict[str, Any]) -> Invocation:
        if event["Step"] == "createSecret":  # Secrets Manager staged the version before invoking
            staged.append(store.describe_raw(event["SecretId"])["VersionIdsToStages"][event["ClientRequestToken"]])
        events.append(event)
        return rotation.invoke(event)

    scheduler = RotationScheduler(store, invoke, emulator.stage_rotation)
    daily, old_token = issue(admin, "daily", rotation_period_days=1, **FETCHED)
    issue(admin, "manual")
    weekly, _ = issue(admin, "weekly", rotation_period_days=7, **FETCHED)
    t0 = store.get(daily).created_at
    assert t0 == noon_days_ago(10)

    # Secrets Manager's window for rate(1 day) is the next UTC day, from its midnight.
    assert scheduler.run_due(t0 + timedelta(hours=12) - timedelta(seconds=1)) == []
    assert events == []

    runs = scheduler.run_due(t0 + timedelta(hours=12))
    assert [(r.key_id, r.ok) for r in runs] == [(daily, True)]
    assert staged == [["AWSPENDING"]]
    arn = store.describe_raw(store.secret_id(daily))["ARN"]
    assert [e["Step"] for e in events] == list(STEPS)
    assert {e["SecretId"] for e in events} == {arn}
    assert {e["ClientRequestToken"] for e in events} == {runs[0].version_id}

    meta = store.describe_raw(store.secret_id(daily))
    # Secrets Manager may leave AWSPENDING on the new current version after a successful rotation.
    assert "AWSCURRENT" in meta["VersionIdsToStages"][runs[0].version_id]
    assert "AWSPREVIOUS" in [s for stages in meta["VersionIdsToStages"].values() for s in stages]
    record = store.get(daily)
    assert record.own_token != old_token
    assert record.previous is not None and record.previous.sha256 == tokens.digest(old_token).hex()
    assert record.rotated_at is not None

    # The period now runs from the rotation; the weekly client falls due a week after creation.
    assert daily not in scheduler.due(window_opens(record.rotated_at, 1) - timedelta(seconds=1))
    assert scheduler.due(t0 + timedelta(days=7, hours=-12) - timedelta(seconds=1)) == []
    assert set(scheduler.due(t0 + timedelta(days=7, hours=-12))) == {weekly}
    assert set(scheduler.due(window_opens(record.rotated_at, 1))) == {daily, weekly}


def test_a_client_updated_every_day_still_rotates_on_schedule(
    emulator: SecretsManagerEmulator,
    dated: tuple[AdminContext, FakeClock],
    store: SecretsStore,
    rotation: FunctionRuntime,
) -> None:
    """Each update is a new version (a PutSecretValue, which AWS counts as a rotation under
    AutomaticallyAfterDays): under the rate() schedule none of them moves the next rotation."""
    admin, clock = dated
    scheduler = RotationScheduler(store, rotation.invoke, emulator.stage_rotation)
    client_id, token = issue(admin, "busy", rotation_period_days=3, **FETCHED)
    t0 = store.get(client_id).created_at
    versions = {store.read(client_id)[1]}
    for day in (1, 2):
        clock.advance(86400)
        clients.update(admin, "acme", client_id, {"scopes": [f"GET /day/{day}"]}, ACTOR)
        versions.add(store.read(client_id)[1])
        assert scheduler.run_due(datetime.fromtimestamp(clock(), UTC)) == [], day
    assert len(versions) == 3, "every update wrote a new version"
    window = t0 + timedelta(days=3, hours=-12)  # midnight UTC, three days after the day of issue
    clock.advance(86400 - 1)
    clients.update(admin, "acme", client_id, {"scopes": ["GET /day/3"]}, ACTOR)  # a second before the window
    assert scheduler.due(window - timedelta(seconds=1)) == []
    runs = scheduler.run_due(window)
    assert [(r.key_id, r.ok) for r in runs] == [(client_id, True)]
    record = store.get(client_id)
    assert record.own_token != token and record.scopes == ["GET /day/3"]


def test_revoked_clients_are_not_rotated(
    emulator: SecretsManagerEmulator, admin: AdminContext, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    client_id, _ = issue(admin, "gone", rotation_period_days=1, **FETCHED)
    clients.revoke(admin, "acme", client_id, ACTOR)
    scheduler = RotationScheduler(store, rotation.invoke, emulator.stage_rotation)
    assert scheduler.run_due(datetime.now(UTC) + timedelta(days=30)) == []


def test_a_failing_step_stops_the_rotation_and_keeps_the_current_token(
    emulator: SecretsManagerEmulator, admin: AdminContext, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    client_id, token = issue(admin, "flaky", rotation_period_days=1, **FETCHED)

    def invoke(event: dict[str, Any]) -> Invocation:
        return Invocation(error="RotationError") if event["Step"] == "testSecret" else rotation.invoke(event)

    runs = RotationScheduler(store, invoke, emulator.stage_rotation).run_due(datetime.now(UTC) + timedelta(days=2))
    assert [(r.key_id, r.failed_step) for r in runs] == [(client_id, "testSecret")]
    assert store.get(client_id).own_token == token


def test_the_timer_runs_checks_until_stopped(store: SecretsStore) -> None:
    import threading

    checked = threading.Event()
    clock_calls: list[int] = []

    def clock() -> datetime:
        clock_calls.append(1)
        checked.set()
        return datetime.now(UTC)

    scheduler = RotationScheduler(store, lambda e: Invocation(error="unused"), lambda arn, v: None, clock=clock)
    scheduler.start(0.05)
    thread = scheduler._thread
    try:
        assert checked.wait(10)
    finally:
        scheduler.stop()
    assert clock_calls
    assert thread is not None and not thread.is_alive()

"""Scheduled rotation with a controllable clock: the local scheduler invokes the real rotation
handler through the local Lambda runtime, against the embedded Secrets Manager."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.local.issuing import ACTOR, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, Invocation, function_environment
from tokengate.local.scheduler import STEPS, RotationScheduler
from tokengate_core.admin.clients import ClientService
from tokengate_core.deployment.config import RotationSettings
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens

#: A rotation schedule needs a delivery path: here GET /token, with a grace shorter than a day.
FETCHED = {"token_fetch": True, "grace_seconds": 3600}


@pytest.fixture
def store(emulator: SecretsManagerEmulator) -> SecretsStore:
    return make_store(RotationSettings())


@pytest.fixture
def rotation() -> Iterator[FunctionRuntime]:
    runtime = FunctionRuntime("rotation", function_environment("rotation", {}), "us-east-1", "123456789012")
    yield runtime
    runtime.shutdown()


def test_due_clients_are_rotated_through_the_four_steps(
    service: ClientService, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> Invocation:
        events.append(event)
        return rotation.invoke(event)

    saves: list[int] = []
    scheduler = RotationScheduler(store, invoke, after_rotation=lambda: saves.append(1))
    daily, old_token = issue(service, "daily", rotation_period_days=1, **FETCHED)
    issue(service, "manual")
    weekly, _ = issue(service, "weekly", rotation_period_days=7, **FETCHED)
    t0 = store.get(daily).created_at

    assert scheduler.run_due(t0 + timedelta(hours=23)) == []
    assert events == [] and saves == []

    runs = scheduler.run_due(t0 + timedelta(hours=25))
    assert [(r.key_id, r.ok) for r in runs] == [(daily, True)]
    assert saves == [1]
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
    assert scheduler.due(record.rotated_at + timedelta(hours=23)) == []
    assert set(scheduler.due(t0 + timedelta(days=8))) == {daily, weekly}


def test_revoked_clients_are_not_rotated(
    service: ClientService, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    client_id, _ = issue(service, "gone", rotation_period_days=1, **FETCHED)
    service.revoke("acme", client_id, ACTOR)
    scheduler = RotationScheduler(store, rotation.invoke)
    assert scheduler.run_due(datetime.now(UTC) + timedelta(days=30)) == []


def test_a_failing_step_stops_the_rotation_and_keeps_the_current_token(
    service: ClientService, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    client_id, token = issue(service, "flaky", rotation_period_days=1, **FETCHED)

    def invoke(event: dict[str, Any]) -> Invocation:
        return Invocation(error="RotationError") if event["Step"] == "testSecret" else rotation.invoke(event)

    runs = RotationScheduler(store, invoke).run_due(datetime.now(UTC) + timedelta(days=2))
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

    scheduler = RotationScheduler(store, lambda e: Invocation(error="unused"), clock=clock)
    scheduler.start(0.05)
    thread = scheduler._thread
    try:
        assert checked.wait(10)
    finally:
        scheduler.stop()
    assert clock_calls
    assert thread is not None and not thread.is_alive()

"""Scheduled rotation with a controllable clock, revocation dates as AWS reports them, and the state
folder's small files (admin credentials).

The scheduler runs in this process against the embedded Secrets Manager and invokes the real
rotation handler through the local Lambda runtime (tests/unit/test_local_store.py has the state
that survives a restart)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, Invocation, function_environment
from tokengate.local.scheduler import STEPS, RotationScheduler
from tokengate.local.state import admin_credentials, write_private
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.clients import ClientService
from tokengate_core.deployment.config import AdminSettings, RotationSettings
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_registry, make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

ACTOR = "arn:aws:iam::123456789012:user/tester"
#: A rotation schedule needs a delivery path: here GET /token, with a grace shorter than a day.
FETCHED = {"token_fetch": True, "grace_seconds": 3600}
KEYRING = keyring.secret_name(AdminSettings().secret_prefix)


@pytest.fixture
def service(emulator: SecretsManagerEmulator) -> ClientService:
    settings = AdminSettings()
    return ClientService(store=make_store(settings), settings=settings, registry=make_registry(settings))


@pytest.fixture
def store(emulator: SecretsManagerEmulator) -> SecretsStore:
    return make_store(RotationSettings())


@pytest.fixture
def rotation() -> Iterator[FunctionRuntime]:
    runtime = FunctionRuntime("rotation", function_environment("rotation", {}), "us-east-1", "123456789012")
    yield runtime
    runtime.shutdown()


def issue(service: ClientService, name: str, **fields: Any) -> tuple[str, str]:
    issued = service.issue("acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token


# -- scheduled rotation -------------------------------------------------------------------------------


def test_due_clients_are_rotated_through_the_four_steps(
    service: ClientService, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> Invocation:
        events.append(event)
        return rotation.invoke(event)

    scheduler = RotationScheduler(store, invoke)
    daily, old_token = issue(service, "daily", rotation_period_days=1, **FETCHED)
    issue(service, "manual")
    weekly, _ = issue(service, "weekly", rotation_period_days=7, **FETCHED)
    t0 = store.get(daily).created_at

    assert scheduler.run_due(t0 + timedelta(hours=23)) == []
    assert events == []

    runs = scheduler.run_due(t0 + timedelta(hours=25))
    assert [(r.key_id, r.ok) for r in runs] == [(daily, True)]
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


# -- dates and files --------------------------------------------------------------------------------------


def test_deleted_date_is_when_the_revoke_was_asked_for(
    emulator: SecretsManagerEmulator, service: ClientService
) -> None:
    # As AWS reports it (moto itself reports the end of the recovery window).
    sm = boto3.client("secretsmanager")
    gone, _ = issue(service, "gone")
    asked = datetime.now(UTC)
    service.revoke("acme", gone, ACTOR)
    deleted = sm.describe_secret(SecretId=f"tokengate/clients/{gone}")["DeletedDate"]
    assert asked - timedelta(seconds=1) <= deleted <= datetime.now(UTC)
    assert service.get("acme", gone).revoked_at == deleted


def test_admin_credentials_are_generated_once_private_and_overridable(tmp_path: Path) -> None:
    first = admin_credentials(tmp_path, "us-east-1", {})
    assert first.source == "generated" and first.access_key_id.startswith("AKIA")
    path = tmp_path / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = admin_credentials(tmp_path, "us-east-1", {})
    assert (again.source, again.access_key_id, again.secret_access_key) == (
        "file",
        first.access_key_id,
        first.secret_access_key,
    )
    env = {"TOKENGATE_ADMIN_ACCESS_KEY_ID": "AKIAENVAAAAAAAAAAAAA", "TOKENGATE_ADMIN_SECRET_ACCESS_KEY": "s" * 40}
    from_env = admin_credentials(tmp_path, "us-east-1", env)
    assert (from_env.source, from_env.access_key_id) == ("environment", "AKIAENVAAAAAAAAAAAAA")
    assert json.loads(path.read_text())["access_key_id"] == first.access_key_id  # env values never written
    with pytest.raises(ValueError, match="set both"):
        admin_credentials(tmp_path, "us-east-1", {"TOKENGATE_ADMIN_ACCESS_KEY_ID": "AKIAX"})


def test_private_files_are_replaced_atomically(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    write_private(path, "one")
    write_private(path, "two")
    assert path.read_text() == "two" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]

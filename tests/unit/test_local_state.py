"""Scheduled rotation with a controllable clock, and secrets that survive a restart of the stack.

Both run in this process against the embedded Secrets Manager: the scheduler invokes the real
rotation handler through the local Lambda runtime, the snapshot goes through the real API."""

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
from tokengate.local.state import SecretsSnapshot, admin_credentials, write_private
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings, RotationSettings
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_registry, make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

ACTOR = "arn:aws:iam::123456789012:user/tester"
#: A rotation schedule needs a delivery path: here GET /token, with a grace shorter than a day.
FETCHED = {"token_fetch": True, "grace_seconds": 3600}
KEYRING = keyring.secret_name(AdminSettings().secret_prefix)
WINDOW = AdminSettings().recovery_window_days


@pytest.fixture
def admin(emulator: SecretsManagerEmulator) -> AdminContext:
    settings = AdminSettings()
    return AdminContext(store=make_store(settings), settings=settings, registry=make_registry(settings))


@pytest.fixture
def store(emulator: SecretsManagerEmulator) -> SecretsStore:
    return make_store(RotationSettings())


@pytest.fixture
def rotation() -> Iterator[FunctionRuntime]:
    runtime = FunctionRuntime("rotation", function_environment("rotation", {}), "us-east-1", "123456789012")
    yield runtime
    runtime.shutdown()


def issue(admin: AdminContext, name: str, **fields: Any) -> tuple[str, str]:
    issued = clients.issue(admin, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token


# -- scheduled rotation -------------------------------------------------------------------------------


def test_due_clients_are_rotated_through_the_four_steps(
    admin: AdminContext, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    events: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> Invocation:
        events.append(event)
        return rotation.invoke(event)

    saves: list[int] = []
    scheduler = RotationScheduler(store, invoke, after_rotation=lambda: saves.append(1))
    daily, old_token = issue(admin, "daily", rotation_period_days=1, **FETCHED)
    issue(admin, "manual")
    weekly, _ = issue(admin, "weekly", rotation_period_days=7, **FETCHED)
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


def test_revoked_clients_are_not_rotated(admin: AdminContext, store: SecretsStore, rotation: FunctionRuntime) -> None:
    client_id, _ = issue(admin, "gone", rotation_period_days=1, **FETCHED)
    clients.revoke(admin, "acme", client_id, ACTOR)
    scheduler = RotationScheduler(store, rotation.invoke)
    assert scheduler.run_due(datetime.now(UTC) + timedelta(days=30)) == []


def test_a_failing_step_stops_the_rotation_and_keeps_the_current_token(
    admin: AdminContext, store: SecretsStore, rotation: FunctionRuntime
) -> None:
    client_id, token = issue(admin, "flaky", rotation_period_days=1, **FETCHED)

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


# -- persistence --------------------------------------------------------------------------------------


def _state(sm: Any, name: str) -> dict[str, Any]:
    meta = sm.describe_secret(SecretId=name)
    versions = {
        vid: (sorted(stages), sm.get_secret_value(SecretId=name, VersionId=vid)["SecretString"])
        for vid, stages in meta["VersionIdsToStages"].items()
        if stages and not meta.get("DeletedDate")
    }
    return {
        "versions": versions,
        "stages": {k: sorted(v) for k, v in meta["VersionIdsToStages"].items() if v},
        "tags": sorted((t["Key"], t["Value"]) for t in meta.get("Tags", [])),
        "deleted": meta.get("DeletedDate") is not None,
    }


def test_a_snapshot_replays_every_version_stage_tag_and_revocation(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    sm = boto3.client("secretsmanager")
    path = tmp_path / "secrets.json"
    snapshot = SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate)
    plain, _ = issue(admin, "plain", reader_arn="arn:aws:iam::123456789012:role/reader")
    turned, _ = issue(admin, "turned", grace_seconds=3600)
    clients.rotate(admin, "acme", turned, ACTOR)
    current = next(
        v
        for v, s in sm.describe_secret(SecretId=f"tokengate/clients/{turned}")["VersionIdsToStages"].items()
        if "AWSCURRENT" in s
    )
    sm.update_secret_version_stage(
        SecretId=f"tokengate/clients/{turned}", VersionStage="AWSPENDING", MoveToVersionId=current
    )
    gone, gone_token = issue(admin, "gone")
    snapshot.save()  # the stack saves after every admin write: gone is readable here
    clients.revoke(admin, "acme", gone, ACTOR)
    snapshot.save()
    names = [f"tokengate/clients/{k}" for k in (plain, turned, gone)]
    before = {n: _state(sm, n) for n in names}
    gone_versions = sm.list_secret_version_ids(SecretId=names[2])["Versions"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert gone_token in path.read_text()  # the revoked client's value came from the earlier snapshot

    emulator.reset()
    restored = SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate)
    assert restored.restore() == 4  # the three clients and the signing keyring
    assert sorted(restored.restored_names) == sorted([*names, KEYRING])
    after = {n: _state(sm, n) for n in names}
    assert after == before
    # AWSCURRENT (with the AWSPENDING a finished rotation can leave) and AWSPREVIOUS all came back.
    assert sorted(map(sorted, before[names[1]]["stages"].values())) == [["AWSCURRENT", "AWSPENDING"], ["AWSPREVIOUS"]]
    assert "ResourcePolicy" in sm.get_resource_policy(SecretId=names[0])
    assert [v["VersionId"] for v in sm.list_secret_version_ids(SecretId=names[2])["Versions"]] == [
        v["VersionId"] for v in gone_versions
    ]
    # Still restorable, with the token it had.
    clients.restore(admin, "acme", gone, ACTOR)
    assert make_store(AdminSettings()).get(gone).own_token == gone_token


def test_deleted_date_is_when_the_revoke_was_asked_for(emulator: SecretsManagerEmulator, admin: AdminContext) -> None:
    # As AWS reports it (moto itself reports the end of the recovery window).
    sm = boto3.client("secretsmanager")
    gone, _ = issue(admin, "gone")
    asked = datetime.now(UTC)
    clients.revoke(admin, "acme", gone, ACTOR)
    deleted = sm.describe_secret(SecretId=f"tokengate/clients/{gone}")["DeletedDate"]
    assert asked - timedelta(seconds=1) <= deleted <= datetime.now(UTC)
    assert clients.get(admin, "acme", gone).revoked_at == deleted


def test_a_restart_keeps_creation_and_revocation_dates(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    sm = boto3.client("secretsmanager")
    path = tmp_path / "secrets.json"
    snapshot = SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate)
    kept, _ = issue(admin, "kept")
    gone, _ = issue(admin, "gone")
    snapshot.save()
    clients.revoke(admin, "acme", gone, ACTOR)
    snapshot.save()
    # Saved two days ago: the replay must bring back those dates, not the time of the restart.
    document = json.loads(path.read_text())
    for entry in document["secrets"]:
        for key in ("created_date", "deleted_date"):
            if entry[key]:
                entry[key] = (datetime.fromisoformat(entry[key]) - timedelta(days=2)).isoformat()
    path.write_text(json.dumps(document))
    saved = {e["name"]: e for e in document["secrets"]}
    emulator.reset()
    SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate).restore()
    for client_id in (kept, gone):
        name = f"tokengate/clients/{client_id}"
        meta = sm.describe_secret(SecretId=name)
        assert meta["CreatedDate"] == datetime.fromisoformat(saved[name]["created_date"])
        listed = next(
            c
            for c in clients.list_page(admin, "acme", limit=10, next_token=None, status=None).items
            if c.client_id == client_id
        )
        assert listed.created_at == meta["CreatedDate"]
    revoked = sm.describe_secret(SecretId=f"tokengate/clients/{gone}")["DeletedDate"]
    assert revoked == datetime.fromisoformat(saved[f"tokengate/clients/{gone}"]["deleted_date"])
    assert clients.get(admin, "acme", gone).revoked_at == revoked


def test_a_first_format_snapshot_still_restores(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    # Format 1 saved the end of the recovery window as deleted_date.
    sm = boto3.client("secretsmanager")
    path = tmp_path / "secrets.json"
    gone, _ = issue(admin, "gone")
    snapshot = SecretsSnapshot(sm, path, recovery_window_days=WINDOW)
    snapshot.save()
    clients.revoke(admin, "acme", gone, ACTOR)
    snapshot.save()
    document = json.loads(path.read_text())
    revoked_at = datetime.now(UTC) - timedelta(days=WINDOW - 1)  # one day of the window left
    for entry in document["secrets"]:
        if entry["deleted_date"]:
            entry["deleted_date"] = (revoked_at + timedelta(days=WINDOW)).isoformat()
    document["format"] = 1
    path.write_text(json.dumps(document))
    emulator.reset()
    SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate).restore()
    deleted = sm.describe_secret(SecretId=f"tokengate/clients/{gone}")["DeletedDate"]
    assert abs(deleted - revoked_at) < timedelta(seconds=2)


def test_a_secret_past_its_recovery_window_is_not_restored(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    sm = boto3.client("secretsmanager")
    path = tmp_path / "secrets.json"
    snapshot = SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate)
    kept, _ = issue(admin, "kept")
    gone, _ = issue(admin, "gone")
    snapshot.save()
    clients.revoke(admin, "acme", gone, ACTOR)
    snapshot.save()
    emulator.reset()
    # Stopped for 60 days: the 7-day recovery window has ended, so the revoked secret is gone for good.
    assert (
        SecretsSnapshot(
            sm, path, recovery_window_days=WINDOW, now=lambda: datetime.now(UTC) + timedelta(days=60)
        ).restore()
        == 2
    )
    assert sorted(s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]) == sorted(
        [f"tokengate/clients/{kept}", KEYRING]
    )


def test_a_secret_revoked_before_it_could_be_read_is_skipped(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    sm = boto3.client("secretsmanager")
    path = tmp_path / "secrets.json"
    issue(admin, "kept")
    gone, _ = issue(admin, "gone")
    clients.revoke(admin, "acme", gone, ACTOR)
    # kept and the keyring: no earlier snapshot ever read "gone"'s value
    assert SecretsSnapshot(sm, path, recovery_window_days=WINDOW, backdate=emulator.backdate).save() == 2


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

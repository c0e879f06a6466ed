"""The local stack's saved state: secrets and the name table that survive a restart, the saves
writes share, and the admin's credentials and private files. They run in this process against the
embedded AWS; the snapshots go through the real API."""

from __future__ import annotations

import json
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import staged_version
from tests.unit.local.issuing import ACTOR, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.runtime import FunctionRuntime, function_environment
from tokengate.local.state import CoalescedSaves, SecretsSnapshot, TableSnapshot, admin_credentials, write_private
from tokengate_core.admin import clients
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings, RotationSettings
from tokengate_core.records.names import NameRegistry, create_table
from tokengate_core.records.store import SecretsStore
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import keyring

#: A rotation schedule needs a delivery path: here GET /token, with a grace shorter than a day.
FETCHED = {"token_fetch": True, "grace_seconds": 3600}
KEYRING = keyring.secret_name(AdminSettings().secret_prefix)
WINDOW = AdminSettings().recovery_window_days


@pytest.fixture
def store(emulator: SecretsManagerEmulator) -> SecretsStore:
    return make_store(RotationSettings())


@pytest.fixture
def rotation() -> Iterator[FunctionRuntime]:
    runtime = FunctionRuntime("rotation", function_environment("rotation", {}), "us-east-1", "123456789012")
    yield runtime
    runtime.shutdown()


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


def test_a_rotation_stopped_before_its_value_leaves_a_snapshot_that_saves_and_restores(
    emulator: SecretsManagerEmulator, admin: AdminContext, tmp_path: Path
) -> None:
    """A version Secrets Manager staged but createSecret never filled has no value to keep."""
    sm = boto3.client("secretsmanager")
    client_id, token = issue(admin, "halted", rotation_period_days=30, **FETCHED)
    name = f"tokengate/clients/{client_id}"
    staged_version(sm.describe_secret(SecretId=name)["ARN"])
    snapshot = SecretsSnapshot(sm, tmp_path / "secrets.json", recovery_window_days=WINDOW, backdate=emulator.backdate)
    snapshot.save()
    emulator.reset()
    assert SecretsSnapshot(sm, tmp_path / "secrets.json", recovery_window_days=WINDOW).restore() == 2
    stages = sm.describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sorted(map(sorted, stages.values())) == [["AWSCURRENT"]]
    assert make_store(AdminSettings()).get(client_id).own_token == token


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


# -- the name table across restarts -----------------------------------------------------------------


def test_the_table_snapshot_replays_every_claim_into_a_fresh_table(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    client = boto3.session.Session().client("dynamodb", endpoint_url=emulator.url)
    table = AdminSettings().table_name
    names = NameRegistry(client, table)
    assert names.claim("acme", "billing", "a" * 20) is None
    assert names.claim("acme", "reports", "b" * 20) is None
    path = tmp_path / "table.json"
    assert TableSnapshot(client, table, path).save() == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "billing" in path.read_text()

    emulator.reset()
    create_table(client, table)
    assert names.holder("acme", "billing") is None
    assert TableSnapshot(client, table, path).restore() == 2
    assert names.holder("acme", "billing") == "a" * 20
    assert names.claim("acme", "reports", "c" * 20) == "b" * 20, "the name is still taken"


def test_no_table_snapshot_is_nothing_to_restore_and_a_broken_one_says_so(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    client = boto3.session.Session().client("dynamodb", endpoint_url=emulator.url)
    path = tmp_path / "table.json"
    snapshot = TableSnapshot(client, AdminSettings().table_name, path)
    assert snapshot.restore() == 0
    path.write_text("{broken")
    with pytest.raises(ValueError, match=r"table\.json: not valid JSON"):
        snapshot.restore()
    path.write_text(json.dumps({"format": 99, "items": []}))
    with pytest.raises(ValueError, match="unknown snapshot format 99"):
        snapshot.restore()
    path.write_text(json.dumps({"format": 1, "items": ["not an item"]}))
    with pytest.raises(ValueError, match="not a list of DynamoDB items"):
        snapshot.restore()


# -- saves after writes -----------------------------------------------------------------------------


def test_concurrent_writes_share_saves_and_each_returns_after_a_save_that_began_after_it() -> None:
    started: list[float] = []
    returned: dict[int, float] = {}
    requested: dict[int, float] = {}

    def save() -> None:
        started.append(time.monotonic())
        time.sleep(0.05)

    saves = CoalescedSaves(save)

    def write(i: int) -> None:
        requested[i] = time.monotonic()
        saves.after_write()
        returned[i] = time.monotonic()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(returned) == 20
    assert len(started) < 20, "writers shared saves"
    for i, done in returned.items():
        assert any(requested[i] <= begun <= done for begun in started), i

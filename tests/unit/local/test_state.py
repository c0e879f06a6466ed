"""The state folder's small files (admin credentials, private files) and revocation dates as AWS
reports them. The state that survives a restart (state.db) is tested in tests/unit/local/test_store.py."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.unit.local.issuing import ACTOR, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate.local.state import admin_credentials, write_private
from tokengate_core.admin import clients
from tokengate_core.admin.context import AdminContext

# -- dates and files --------------------------------------------------------------------------------------


def test_deleted_date_is_when_the_revoke_was_asked_for(emulator: SecretsManagerEmulator, admin: AdminContext) -> None:
    # As AWS reports it (moto itself reports the end of the recovery window).
    sm = boto3.client("secretsmanager")
    gone, _ = issue(admin, "gone")
    asked = datetime.now(UTC)
    clients.revoke(admin, "acme", gone, ACTOR)
    deleted = sm.describe_secret(SecretId=f"tokengate/clients/{gone}")["DeletedDate"]
    assert asked - timedelta(seconds=1) <= deleted <= datetime.now(UTC)
    assert clients.get(admin, "acme", gone).revoked_at == deleted


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

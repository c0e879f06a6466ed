"""The signing keys through the admin API and the authorizer: listed without values, a new key signs
only once every authorizer can know it, a missing or corrupt keyring denies cheaply, a full one is a
409, and clients issued before tags keep working until they rotate."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from tests.integration.test_key_ids import decide, make_authorizer
from tests.support import FakeClock, call_admin, forged, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason
from tokengate_core.deployment.config import StoreSettings
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


def test_keys_are_listed_without_values_and_rotation_keeps_old_tokens_valid() -> None:
    _, token = issue("acme", "bot")
    listed = call_admin("GET", "/admin/keys")
    assert listed.status == 200
    assert [k["name"] for k in listed.body["keys"]] == ["k1"]
    rotated = call_admin("POST", "/admin/keys/rotate")
    assert rotated.status == 200
    assert [(k["name"], k["signing"]) for k in rotated.body["keys"]] == [("k1", True), ("k2", False)]
    text, _ = make_store(StoreSettings()).read_named(keyring.secret_name("tokengate/clients/"))
    for key in keyring.parse(text).keys:
        assert key.secret.decode() not in json.dumps(rotated.body)
    authz = make_authorizer(FakeClock(now=time.time() + keyring.REFRESH_SECONDS + 1))
    assert decide(authz, token) is Reason.ALLOWED  # signed by k1, which still verifies


def test_a_new_key_signs_only_once_every_authorizer_has_had_time_to_load_it() -> None:
    ring = keyring.new_keyring(0.0).with_new_key(1000.0)
    assert ring.signing_key(1000.0).name == "k1"
    assert ring.signing_key(1000.0 + keyring.REFRESH_SECONDS - 1).name == "k1"
    assert ring.signing_key(1000.0 + keyring.REFRESH_SECONDS).name == "k2"


def test_a_missing_keyring_denies_and_costs_one_read_per_negative_ttl(emulator: SecretsManagerEmulator) -> None:
    clock = FakeClock(now=time.time())
    authz = make_authorizer(clock)
    for _ in range(100):
        assert decide(authz, forged(tokens.new_key_id())) is Reason.BACKEND_UNAVAILABLE
    assert emulator.calls("GetSecretValue") == 1
    clock.advance(10.1)
    decide(authz, forged(tokens.new_key_id()))
    assert emulator.calls("GetSecretValue") == 2


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "[]",
        '{"version": 2, "k1": "' + "a" * 40 + '"}',
        '{"version": 1}',
        '{"version": 1, "k1": "short"}',
        '{"version": 1, "x1": "' + "a" * 40 + '"}',
        '{"version": 1, "k1": "' + "a" * 40 + '", "added_at": {"k1": "yesterday"}}',
        '{"version": 1, "k1": "' + "a" * 40 + '", "legacy_key_ids": ["nope"]}',
    ],
)
def test_a_corrupt_keyring_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(keyring.KeyRingError) as raised:
        keyring.parse(value)
    assert "a" * 40 not in str(raised.value)


def test_a_full_keyring_is_a_409_not_a_500() -> None:
    for _ in range(keyring.MAX_KEYS - 1):
        assert call_admin("POST", "/admin/keys/rotate").status == 200
    refused = call_admin("POST", "/admin/keys/rotate")
    assert refused.status == 409
    assert refused.body["code"] == "keyring_full"
    assert len(call_admin("GET", "/admin/keys").body["keys"]) == keyring.MAX_KEYS


def plant_untagged_client(tenant: str, name: str) -> tuple[str, str]:
    """A client exactly as tokengate 0.1 stored it: key id derived from the name, no tag."""
    from tokengate_core.admin.keys import untagged_era_key_id

    key_id = untagged_era_key_id(tenant, name)
    token = tokens.generate(key_id, lambda signed: tokens.encode_tag(signed.encode()[-12:]))
    now = "2026-01-01T00:00:00+00:00"
    record = {
        "schema_version": 1,
        "key_id": key_id,
        "token": token,
        "tenant": tenant,
        "client_name": name,
        "scopes": ["*"],
        "enabled": True,
        "rotation": {"period_days": None, "grace_seconds": 600},
        "created_at": now,
        "created_by": "arn:aws:iam::123456789012:user/old",
        "updated_at": now,
        "updated_by": "arn:aws:iam::123456789012:user/old",
    }
    boto3.client("secretsmanager").create_secret(
        Name=f"tokengate/clients/{key_id}",
        SecretString=json.dumps(record),
        Tags=[{"Key": "tokengate:tenant", "Value": tenant}, {"Key": "tokengate:client-name", "Value": name}],
    )
    # Its digest index item, as the index build of an upgraded deployment writes it.
    from tokengate_core.deployment.config import AdminSettings
    from tokengate_core.records.index import ACTIVE, ClientIndex
    from tokengate_core.records.model import ClientRecord

    index = ClientIndex(boto3.client("dynamodb"), AdminSettings().table_name)
    index.write(ClientRecord.from_secret_string(json.dumps(record)), ACTIVE)
    return key_id, token


def test_migrate_keeps_untagged_tokens_working_until_they_rotate(emulator: SecretsManagerEmulator) -> None:
    issue("acme", "new-style")
    old_id, old_token = plant_untagged_client("acme", "old-style")
    clock = FakeClock(now=time.time())
    authz = make_authorizer(clock)
    assert decide(authz, old_token) is Reason.FORGED  # before the migration

    report = call_admin("POST", "/admin/migrate")
    assert report.status == 200
    assert report.body == {"clients": 2, "names_claimed": 1, "legacy_key_ids": 1, "conflicts": []}
    assert call_admin("POST", "/admin/migrate").body["names_claimed"] == 0  # idempotent
    assert call_admin("POST", BASE, {"client_name": "old-style"}).status == 409  # its name is held

    authz = make_authorizer(clock)
    assert decide(authz, old_token) is Reason.ALLOWED
    emulator.reset_counts()
    for _ in range(300):  # anyone can make untagged tokens for a legacy id: bounded all the same
        assert decide(authz, forged(old_id)) is Reason.WRONG_SECRET
        clock.advance(0.1)
    assert emulator.calls("dynamodb:GetItem") <= 4  # 30 s: one index read per negative TTL

    new_token = call_admin("POST", f"{BASE}/{old_id}/rotate").body["token"]
    assert authz.decide(new_token, "GET", "ANY /invoke").allowed
    assert authz.decide(old_token, "GET", "ANY /invoke").grace  # the untagged token, in its grace window
    clock.advance(601)
    assert decide(authz, old_token) is Reason.WRONG_SECRET

    with pytest.MonkeyPatch.context() as patch:
        from admin import app as admin_app

        patch.setattr(admin_app.admin_context, "clock", lambda: clock.now)
        assert call_admin("POST", "/admin/migrate").body["legacy_key_ids"] == 0
    fresh = make_authorizer(clock)
    assert decide(fresh, new_token) is Reason.ALLOWED
    assert decide(fresh, old_token) is Reason.FORGED

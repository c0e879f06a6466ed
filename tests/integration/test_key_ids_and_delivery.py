"""Key ids that cannot be guessed, made-up tokens denied offline, and rotated tokens that reach
their clients: through GET /token with what the client holds, or not scheduled at all."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest

from tests.support import FakeClock, authorizer_event, call_admin, forged, issue, mistyped
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings, ConfigError, StoreSettings
from tokengate_core.errors import RotationError
from tokengate_core.lifecycle.rotation import Rotator
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


def make_authorizer(clock: FakeClock) -> TokenAuthorizer:
    settings = AuthorizerSettings()
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock)


def decide(authz: TokenAuthorizer, token: str, route: str = "ANY /invoke", method: str = "GET") -> Reason:
    return authz.decide(token, method, route).reason


# -- key ids --------------------------------------------------------------------------------------------


def test_one_name_in_two_deployments_gets_unrelated_key_ids(emulator: SecretsManagerEmulator) -> None:
    first, _ = issue("acme", "ci")
    emulator.reset()  # a second, fresh deployment: new keyring, empty table
    emulator.create_table("tokengate")
    second, _ = issue("acme", "ci")
    assert first != second
    assert tokens.is_key_id(first) and tokens.is_key_id(second)


def test_a_thousand_made_up_key_ids_cost_no_client_read(emulator: SecretsManagerEmulator) -> None:
    issue("acme", "real")  # a deployment with a keyring and a client
    authz = make_authorizer(FakeClock(now=time.time()))
    emulator.reset_counts()
    made_up = [forged(tokens.new_key_id()) for _ in range(1000)]
    assert all(tokens.parse(t) for t in made_up)  # every one has a valid checksum
    decisions = [authz.decide(t, "GET", "ANY /invoke") for t in made_up]
    assert not any(d.allowed for d in decisions)
    assert {d.reason for d in decisions} == {Reason.FORGED}
    assert emulator.calls() <= 10
    assert emulator.calls("GetSecretValue") == 1  # the keyring, once per container


def test_a_rotated_token_works_on_first_use_after_forged_probes(emulator: SecretsManagerEmulator) -> None:
    clock = FakeClock(now=time.time())
    authz = make_authorizer(clock)
    client_id, old = issue("acme", "victim", grace_seconds=600)
    assert decide(authz, old) is Reason.ALLOWED
    for _ in range(500):  # an outsider who saw the key id in a log
        assert decide(authz, forged(client_id)) is Reason.FORGED
    new = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    assert decide(authz, new) is Reason.ALLOWED
    assert decide(authz, old) is Reason.ALLOWED  # still in grace


def test_a_rotated_token_works_on_first_use_after_a_superseded_one(emulator: SecretsManagerEmulator) -> None:
    """Even a holder of a genuine old token cannot spend the new token's lookup."""
    clock = FakeClock(now=time.time())
    authz = make_authorizer(clock)
    client_id, first = issue("acme", "victim", grace_seconds=0)
    assert decide(authz, first) is Reason.ALLOWED
    second = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    assert decide(authz, second) is Reason.ALLOWED
    for _ in range(50):
        assert decide(authz, first) is Reason.WRONG_SECRET
    third = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    assert decide(authz, third) is Reason.ALLOWED


def test_client_names_stay_unique_under_concurrent_issues() -> None:
    results: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(call_admin("POST", BASE, {"client_name": "racer"}).status)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] + [409] * 7
    assert len(call_admin("GET", BASE).body["items"]) == 1


def test_a_name_is_held_while_revoked_and_freed_once_purged() -> None:
    client_id, _ = issue("acme", "ci")
    assert call_admin("POST", BASE, {"client_name": "ci"}).status == 409
    assert call_admin("DELETE", f"{BASE}/{client_id}").status == 200
    refused = call_admin("POST", BASE, {"client_name": "ci"})
    assert refused.status == 409 and "restore" in refused.body["message"]
    boto3.client("secretsmanager").delete_secret(
        SecretId=f"tokengate/clients/{client_id}", ForceDeleteWithoutRecovery=True
    )  # what the end of the recovery window does
    reissued, _ = issue("acme", "ci")
    assert reissued != client_id
    assert call_admin("POST", BASE, {"client_name": "ci"}).status == 409


def test_the_same_name_in_two_tenants_is_two_clients() -> None:
    a, _ = issue("acme", "ci")
    b, _ = issue("globex", "ci")
    assert a != b


# -- the keyring -------------------------------------------------------------------------------------------


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


# -- delivery paths ---------------------------------------------------------------------------------------


def test_a_schedule_without_a_delivery_path_is_refused_and_changes_nothing() -> None:
    refused = call_admin("POST", BASE, {"client_name": "stranded", "rotation_period_days": 30})
    assert refused.status == 400
    assert refused.body["code"] == "no_delivery_path"
    assert call_admin("GET", BASE).body["items"] == []
    assert call_admin("POST", BASE, {"client_name": "stranded"}).status == 201  # the name was not taken

    client_id, _ = issue("acme", "plain")
    patched = call_admin("PATCH", f"{BASE}/{client_id}", {"rotation_period_days": 7})
    assert patched.status == 400 and patched.body["code"] == "no_delivery_path"
    assert call_admin("GET", f"{BASE}/{client_id}").body["rotation"]["period_days"] is None


def test_token_fetch_as_the_only_path_needs_a_grace_window_shorter_than_the_period() -> None:
    no_grace = {"client_name": "a", "rotation_period_days": 1, "token_fetch": True, "grace_seconds": 0}
    assert call_admin("POST", BASE, no_grace).body["code"] == "no_delivery_path"
    too_long = {"client_name": "a", "rotation_period_days": 1, "token_fetch": True, "grace_seconds": 86400}
    assert call_admin("POST", BASE, too_long).body["code"] == "no_delivery_path"
    ok = {"client_name": "a", "rotation_period_days": 1, "token_fetch": True, "grace_seconds": 3600}
    assert call_admin("POST", BASE, ok).status == 201


def test_the_rotation_function_never_strands_a_client_without_a_path() -> None:
    """A client scheduled before delivery paths existed keeps its token instead of losing it."""
    client_id, token = issue("acme", "old-style", rotation_period_days=30, token_fetch=True)
    sm = boto3.client("secretsmanager")
    secret_id = f"tokengate/clients/{client_id}"
    record = json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])
    record["token_fetch"] = False
    sm.put_secret_value(SecretId=secret_id, SecretString=json.dumps(record))
    arn = sm.describe_secret(SecretId=secret_id)["ARN"]
    with pytest.raises(RotationError, match="delivery path"):
        Rotator(make_store(StoreSettings())).run("createSecret", arn, "9" * 36)
    assert json.loads(sm.get_secret_value(SecretId=secret_id)["SecretString"])["token"] == token


def delivery_event(authorization: str | None, context: dict[str, Any]) -> dict[str, Any]:
    """The integration event the stage sends GET /token: the request's headers, the authorizer's context."""
    event = authorizer_event(authorization, route_key="GET /token", path="/token")
    for name in ("type", "routeArn", "identitySource"):
        del event[name]
    event["requestContext"]["authorizer"] = {"lambda": context}
    return event


def call_delivery(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The authorizer, then (if it allows) the delivery function, as the stage chains them."""
    from authorizer import app as authorizer_app
    from delivery import app as delivery_app

    decision = authorizer_app.handler(authorizer_event(token, route_key="GET /token", path="/token"), None)
    if not decision["isAuthorized"]:
        return decision, {}
    return decision, delivery_app.handler(delivery_event(token, decision["context"]), None)


def test_a_client_fetches_its_rotated_token_with_the_previous_one() -> None:
    from authorizer import app as authorizer_app

    authorizer_app.authorizer.reset()
    client_id, old = issue("acme", "fetcher", token_fetch=True, grace_seconds=600, scopes=["GET /invoke"])
    new = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    decision, response = call_delivery(old)
    assert decision["context"]["token_status"].startswith("grace; ends=")
    assert response["statusCode"] == 200
    assert response["headers"]["cache-control"] == "no-store"
    assert json.loads(response["body"])["token"] == new
    decision, response = call_delivery(new)
    assert decision["context"]["token_status"] == "current"
    assert json.loads(response["body"])["token"] == new


def test_token_fetch_is_off_unless_asked_for(captured_logs: Any) -> None:
    from authorizer import app as authorizer_app

    authorizer_app.authorizer.reset()
    _, token = issue("acme", "quiet", scopes=["*"])
    decision, _ = call_delivery(token)
    assert decision == {"isAuthorized": False}  # scope '*' does not open GET /token
    assert token not in captured_logs()


def test_delivery_rechecks_the_record_and_never_logs_the_token(captured_logs: Any) -> None:
    from delivery import app as delivery_app

    client_id, token = issue("acme", "fetcher", token_fetch=True)
    context = {"tenant": "acme", "client_id": client_id}
    assert json.loads(delivery_app.handler(delivery_event(token, context), None)["body"])["token"] == token
    assert call_admin("PATCH", f"{BASE}/{client_id}", {"token_fetch": False}).status == 200
    refused = delivery_app.handler(delivery_event(token, context), None)
    assert refused["statusCode"] == 403
    assert json.loads(refused["body"])["code"] == "token_fetch_disabled"
    foreign = delivery_app.handler(delivery_event(token, {"tenant": "globex", "client_id": client_id}), None)
    assert foreign["statusCode"] == 403
    assert delivery_app.handler({}, None)["statusCode"] == 403
    assert token not in captured_logs()


def _rotated_with_no_grace(token: str, client_id: str) -> str:
    call_admin("PATCH", f"{BASE}/{client_id}", {"grace_seconds": 0})
    return str(call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"])


def _superseded(token: str, client_id: str) -> str:
    call_admin("POST", f"{BASE}/{client_id}/rotate")  # the first token is now the previous one, in grace
    return str(call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"])  # and now it is nothing


def _revoked(token: str, client_id: str) -> str:
    call_admin("DELETE", f"{BASE}/{client_id}")
    return token


def _mistyped_in_transit(token: str, client_id: str) -> str:
    return token  # the client is unchanged; what reaches delivery is another value (see the test)


@pytest.mark.parametrize(
    ("change", "sent"),
    [
        (_rotated_with_no_grace, "old"),
        (_superseded, "old"),
        (_revoked, "old"),
        (_rotated_with_no_grace, "none"),
        (_mistyped_in_transit, "other client's"),
        (_mistyped_in_transit, "mistyped"),
    ],
)
def test_delivery_refuses_a_token_the_record_does_not_accept_whatever_the_authorizer_cached(
    change: Any, sent: str, captured_logs: Any
) -> None:
    """The authorizer allowed the token and cached that; then the record changed. For the cache TTL
    the authorizer keeps allowing it, and delivery, which reads the record, is what refuses: with
    the stage's own answer to a denied token, and nothing logged but the outcome."""
    from authorizer import app as authorizer_app
    from delivery import app as delivery_app

    authorizer_app.authorizer.reset()
    client_id, token = issue("acme", "fetcher", token_fetch=True, grace_seconds=600, scopes=["GET /invoke"])
    _, other = issue("acme", "bystander", token_fetch=True)
    decision, fetched = call_delivery(token)
    assert fetched["statusCode"] == 200, "allowed, and now in the authorizer's cache"
    current = change(token, client_id)
    stale = authorizer_app.handler(authorizer_event(token, route_key="GET /token", path="/token"), None)
    if change is not _revoked:
        assert stale["isAuthorized"], "the authorizer's cached decision still allows the old token"
    presented = {"old": token, "none": None, "other client's": other, "mistyped": mistyped(token)}[sent]
    answer = delivery_app.handler(delivery_event(presented, decision["context"]), None)
    assert (answer["statusCode"], json.loads(answer["body"])) == (403, {"message": "Forbidden"})
    assert answer["headers"]["cache-control"] == "no-store"
    printed = captured_logs()
    for value in {token, current, other}:
        assert value not in printed and value not in answer["body"]


def test_delivery_accepts_the_current_token_and_the_previous_one_in_grace_only() -> None:
    from delivery import app as delivery_app

    client_id, token = issue("acme", "fetcher", token_fetch=True, grace_seconds=600)
    context = {"tenant": "acme", "client_id": client_id}
    new = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    for presented in (token, new, f"Bearer {new}", f"bearer {token}"):
        answer = delivery_app.handler(delivery_event(presented, context), None)
        assert answer["statusCode"] == 200 and json.loads(answer["body"])["token"] == new
    newest = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    assert delivery_app.handler(delivery_event(new, context), None)["statusCode"] == 200, "now the previous one"
    assert delivery_app.handler(delivery_event(token, context), None)["statusCode"] == 403, "superseded"
    assert json.loads(delivery_app.handler(delivery_event(newest, context), None)["body"])["token"] == newest


# -- settings whose zero would disable a protection ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [("TOKENGATE_NEGATIVE_CACHE_TTL_SECONDS", "0"), ("TOKENGATE_CACHE_MAX_ENTRIES", "10")],
)
def test_protective_settings_have_floors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        AuthorizerSettings.from_env({name: value})


# -- clients issued before tags (tokengate 0.1) ------------------------------------------------------------


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
    assert emulator.calls("GetSecretValue") <= 4  # 30 s: one per negative TTL

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


def test_a_full_keyring_is_a_409_not_a_500() -> None:
    for _ in range(keyring.MAX_KEYS - 1):
        assert call_admin("POST", "/admin/keys/rotate").status == 200
    refused = call_admin("POST", "/admin/keys/rotate")
    assert refused.status == 409
    assert refused.body["code"] == "keyring_full"
    assert len(call_admin("GET", "/admin/keys").body["keys"]) == keyring.MAX_KEYS

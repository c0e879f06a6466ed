"""Imported tokens: a token callers already hold becomes a client of a tenant. It is checked
exactly and in constant time like any token, everything else still costs no read, and the
client's first rotation gives it a token of ours with the usual grace window."""

from __future__ import annotations

import json
import secrets
import string
import time
from datetime import datetime
from typing import Any

import boto3
import pytest

from tests.integration.test_token_delivery import call_delivery, delivery_event
from tests.support import (
    ADMIN_ARN,
    EventSink,
    FakeClock,
    FakeContext,
    authorizer_event,
    call_admin,
    issue,
    staged_version,
)
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings, StoreSettings
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"
ALPHABET = string.ascii_letters + string.digits


def reference_token() -> str:
    """A token as the reference design's operator would have made one: 40 random characters."""
    return "".join(secrets.choice(ALPHABET) for _ in range(40))


def import_token(token: str, name: str = "legacy", **fields: Any) -> Any:
    return call_admin("POST", "/admin/imports", {"tenant": "acme", "client_name": name, "token": token, **fields})


def authorizer(clock: FakeClock | None = None) -> TokenAuthorizer:
    settings = AuthorizerSettings()
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock or FakeClock(time.time()))


def decide(authz: TokenAuthorizer, token: str, route: str = "ANY /invoke", method: str = "GET") -> Reason:
    return authz.decide(token, method, route).reason


def ring() -> keyring.KeyRing:
    return keyring.ensure(make_store(StoreSettings()), time.time())


def test_callers_holding_the_imported_token_keep_working(emulator: SecretsManagerEmulator) -> None:
    token = reference_token()
    response = import_token(token, scopes=["ANY /invoke"])
    assert response.status == 201, response.body
    client = response.body["client"]
    assert client["imported"] is True and client["tenant"] == "acme" and client["client_name"] == "legacy"
    assert response.body["warnings"] == []
    assert token not in json.dumps(response.body)
    from authorizer import app

    app.authorizer.reset()
    from tests.support import authorizer_event

    for header in (token, f"Bearer {token}"):
        decision = app.handler(authorizer_event(header), None)
        assert decision["isAuthorized"] is True
        assert decision["context"]["client_id"] == client["client_id"]
        assert decision["context"]["token_status"] == "current"
    # Only the digest is stored: neither the record nor the keyring holds the token.
    sm = boto3.client("secretsmanager")
    stored = sm.get_secret_value(SecretId=f"tokengate/clients/{client['client_id']}")["SecretString"]
    ring_text = sm.get_secret_value(SecretId="tokengate/clients/keyring")["SecretString"]
    assert token not in stored and token not in ring_text
    assert json.loads(stored)["imported_sha256"] == tokens.digest(token).hex()
    assert json.loads(ring_text)["imported"] == {tokens.digest(token).hex(): client["client_id"]}
    assert call_admin("GET", f"{CLIENTS}/{client['client_id']}").body["imported"] is True


def test_an_imported_token_is_checked_exactly(emulator: SecretsManagerEmulator) -> None:
    token = reference_token()
    assert import_token(token).status == 201
    authz = authorizer()
    assert decide(authz, token) is Reason.ALLOWED
    for near in (token[:-1], token + "x", token[1:], token.swapcase(), f"{token[:-1]}{chr(ord(token[-1]) ^ 1)}"):
        assert decide(authz, near) is Reason.MALFORMED


def test_garbage_still_costs_no_read(emulator: SecretsManagerEmulator) -> None:
    token = reference_token()
    assert import_token(token).status == 201
    authz = authorizer()
    emulator.reset_counts()
    garbage = [reference_token() for _ in range(500)] + ["short", "x" * 10_000, "with space inside it", "é" * 30]
    garbage += [tokens.generate(tokens.new_key_id(), lambda s: "0" * tokens.TAG_LENGTH, "zz_") for _ in range(50)]
    reasons = {decide(authz, value) for value in garbage}
    assert reasons == {Reason.MALFORMED, Reason.FOREIGN_PREFIX}
    # One read in all: the keyring this container loads once (and every 5 minutes) anyway.
    assert emulator.calls("GetSecretValue") == 1
    emulator.reset_counts()
    assert {decide(authz, value) for value in garbage} == reasons
    assert decide(authz, "garbage") is Reason.MALFORMED
    assert emulator.calls() == 0
    # Values that cannot be imported tokens never make even a cold container read the keyring.
    fresh = authorizer()
    for value in ("short", "x" * 10_000, "with space inside it", "é" * 30, "tg_wrong"):
        assert decide(fresh, value) is Reason.MALFORMED
    assert emulator.calls() == 0


def test_weak_values_are_refused_unless_allowed_and_a_refusal_changes_nothing(emulator: SecretsManagerEmulator) -> None:
    before = ring()
    emulator.reset_counts()
    for weak in ("password1", "a" * 40, "abcdabcdabcdabcdabcdabcd", "0123456789" * 3, "Summer2024!" * 2):
        response = import_token(weak)
        assert response.status == 422 and response.body["code"] == "weak_token", weak
        assert weak not in json.dumps(response.body)
    assert emulator.calls("CreateSecret") == emulator.calls("PutSecretValue") == 0
    assert ring() == before
    accepted = import_token("password1", allow_weak=True)
    assert accepted.status == 201
    (warning,) = accepted.body["warnings"]
    assert "weak" in warning and "password1" not in warning
    assert decide(authorizer(), "password1") is Reason.ALLOWED


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"token": "x" * 7}, 422, "validation_error"),
        ({"token": "x" * 513}, 422, "validation_error"),
        ({"token": "has a space in it and is long enough"}, 422, "validation_error"),
        ({"token": reference_token(), "reader_arn": ADMIN_ARN}, 422, "validation_error"),
        ({"token": reference_token(), "tenant": "Not A Tenant"}, 422, "validation_error"),
    ],
)
def test_bad_import_requests_are_refused_without_echoing_them(body: dict[str, Any], status: int, code: str) -> None:
    response = call_admin("POST", "/admin/imports", {"tenant": "acme", "client_name": "legacy", **body})
    assert (response.status, response.body["code"]) == (status, code)
    assert body["token"] not in json.dumps(response.body)


def test_one_token_is_imported_once_and_our_own_tokens_never(emulator: SecretsManagerEmulator) -> None:
    token = reference_token()
    assert import_token(token).status == 201
    again = import_token(token, name="again")
    assert (again.status, again.body["code"]) == (409, "conflict")
    _, ours = issue("acme", "native")
    own = import_token(ours, name="own")
    assert (own.status, own.body["code"]) == (400, "invalid_request")
    # Neither refusal left a client behind, nor its name taken.
    names = {c["client_name"] for c in call_admin("GET", CLIENTS).body["items"]}
    assert names == {"legacy", "native"}
    assert import_token(reference_token(), name="again").status == 201


def test_an_imported_client_has_scopes_expiry_disable_revoke_restore_and_events() -> None:
    sink = EventSink()
    token = reference_token()
    client = import_token(token, scopes=["GET /invoke"], ttl_seconds=3600).body["client"]
    client_id = client["client_id"]
    (issued,) = sink.drain()
    assert issued["detail-type"] == DetailType.ISSUED and issued["detail"]["imported"] is True
    # An hour before the expiry the import set (however long the import itself took).
    clock = FakeClock(datetime.fromisoformat(client["expires_at"]).timestamp() - 3600)
    authz = authorizer(clock)
    assert decide(authz, token, method="POST") is Reason.OUT_OF_SCOPE
    assert decide(authz, token) is Reason.ALLOWED
    clock.advance(3601)
    assert decide(authz, token) is Reason.EXPIRED
    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"expires_at": None, "enabled": False}).status == 200
    assert decide(authorizer(), token) is Reason.DISABLED
    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"enabled": True}).status == 200
    assert call_admin("DELETE", f"{CLIENTS}/{client_id}").status == 200
    assert decide(authorizer(), token) is Reason.REVOKED
    assert call_admin("POST", f"{CLIENTS}/{client_id}/restore").status == 200
    assert decide(authorizer(), token) is Reason.ALLOWED
    assert sink.types() == [DetailType.UPDATED, DetailType.UPDATED, DetailType.REVOKED, DetailType.RESTORED]
    assert token not in "".join(sink.raw) and tokens.digest(token).hex() not in "".join(sink.raw)


@pytest.fixture
def clock_now() -> float:
    return time.time()


def test_rotating_an_imported_client_gives_it_a_token_of_ours_with_grace(clock_now: float) -> None:
    token = reference_token()
    client_id = import_token(token, grace_seconds=600, token_fetch=True).body["client"]["client_id"]
    assert call_delivery(token)[1]["statusCode"] == 409, "nothing newer than the imported token yet"
    rotated = call_admin("POST", f"{CLIENTS}/{client_id}/rotate")
    assert rotated.status == 200 and rotated.body["client"]["imported"] is False
    new = rotated.body["token"]
    assert tokens.parse(new).key_id == client_id
    clock = FakeClock(clock_now)
    authz = authorizer(clock)
    assert decide(authz, new) is Reason.ALLOWED
    decision = authz.decide(token, "GET", "ANY /invoke")
    assert decision.reason is Reason.ALLOWED and decision.grace and decision.imported
    # During grace the imported token fetches the new one (a caller with no IAM identity moves over).
    _, fetched = call_delivery(token)
    assert json.loads(fetched["body"])["token"] == new
    # Past the grace window, however long the import and the rotation took on this machine.
    ends = datetime.fromisoformat(rotated.body["client"]["rotation"]["previous_token_valid_until"]).timestamp()
    clock.advance(max(601, ends - clock.now + 1))
    assert decide(authz, token) is Reason.WRONG_SECRET
    assert decide(authz, new) is Reason.ALLOWED
    assert tokens.digest(token).hex() in ring().imported  # until the sweep takes it out


def test_without_grace_the_imported_token_leaves_the_keyring_at_once(emulator: SecretsManagerEmulator) -> None:
    token = reference_token()
    client_id = import_token(token, grace_seconds=0).body["client"]["client_id"]
    assert call_admin("POST", f"{CLIENTS}/{client_id}/rotate").status == 200
    assert ring().imported == {}
    authz = authorizer()
    authz.decide("warm-up-the-keyring-please", "GET", "ANY /invoke")
    emulator.reset_counts()
    assert decide(authz, token) is Reason.MALFORMED
    assert emulator.calls() == 0


def test_delivery_refuses_an_imported_token_rotated_out_while_the_authorizer_still_allows_it() -> None:
    """The authorizer holds the keyring (5 minutes) and the client (its cache TTL): for that long it
    still allows an imported token that a rotation without grace replaced. Delivery does not."""
    from authorizer import app as authorizer_app
    from delivery import app as delivery_app

    authorizer_app.authorizer.reset()
    token = reference_token()
    client_id = import_token(token, grace_seconds=600, token_fetch=True).body["client"]["client_id"]
    decision, fetched = call_delivery(token)
    assert fetched["statusCode"] == 409, "allowed, and the client and keyring are now cached"
    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"grace_seconds": 0}).status == 200
    new = call_admin("POST", f"{CLIENTS}/{client_id}/rotate").body["token"]
    stale = authorizer_app.handler(authorizer_event(token, route_key="GET /token", path="/token"), None)
    assert stale["isAuthorized"], "the cached decision"
    answer = delivery_app.handler(delivery_event(token, decision["context"]), None)
    assert (answer["statusCode"], json.loads(answer["body"])) == (403, {"message": "Forbidden"})
    assert new not in answer["body"]


def test_a_scheduled_rotation_of_an_imported_client_keeps_the_imported_token_in_grace() -> None:
    from rotation import app as rotation

    token = reference_token()
    client_id = import_token(token, rotation_period_days=30, token_fetch=True, grace_seconds=600).body["client"][
        "client_id"
    ]
    arn = boto3.client("secretsmanager").describe_secret(SecretId=f"tokengate/clients/{client_id}")["ARN"]
    version = staged_version(arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.handler({"Step": step, "SecretId": arn, "ClientRequestToken": version}, FakeContext())
    authz = authorizer()
    decision = authz.decide(token, "GET", "ANY /invoke")
    assert decision.reason is Reason.ALLOWED and decision.grace
    _, fetched = call_delivery(token)
    new = json.loads(fetched["body"])["token"]
    assert tokens.parse(new).key_id == client_id and decide(authz, new) is Reason.ALLOWED

"""Key ids that cannot be guessed, and made-up tokens denied offline: a thousand of them cost no
client read, and a rotated token works on its first use whatever was probed before."""

from __future__ import annotations

import time

import pytest

from tests.support import FakeClock, call_admin, forged, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")


BASE = "/admin/tenants/acme/clients"


def make_authorizer(clock: FakeClock) -> TokenAuthorizer:
    settings = AuthorizerSettings()
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=clock)


def decide(authz: TokenAuthorizer, token: str, route: str = "ANY /invoke", method: str = "GET") -> Reason:
    return authz.decide(token, method, route).reason


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

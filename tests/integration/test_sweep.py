"""The sweep: Client Expiring for expiries and grace windows ending within the window (nothing else),
and imported tokens that no client accepts any more taken out of the keyring."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.support import EventSink, FakeClock, FakeContext, call_admin, issue, rewrite_record
from tokengate.emulator import EVENTS, Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings, StoreSettings, SweepSettings
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_SWEEP
from tokengate_core.lifecycle.sweep import Sweeper
from tokengate_core.runtime.aws import make_publisher, make_store
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"


def sweeper(clock: Callable[[], float] = time.time, days: float = 7.0) -> Sweeper:
    settings = SweepSettings(expiry_warning_days=days)
    return Sweeper(make_store(settings), make_publisher(settings, "tokengate-sweep"), warning_days=days, clock=clock)


def at(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def expiring(sink: EventSink) -> dict[tuple[str, str], str]:
    """(client name, subject) -> when it ends, for every Client Expiring event delivered."""
    found = {}
    for event in sink.drain():
        assert event["detail-type"] == DetailType.EXPIRING
        detail = event["detail"]
        assert detail["actor"] == ACTOR_SCHEDULED_SWEEP and detail["tenant"] == "acme"
        found[(detail["client_name"], detail["subject"])] = detail["expires_at"]
    return found


def test_the_sweep_reports_what_ends_within_the_window_and_nothing_else() -> None:
    sink = EventSink()
    issue("acme", "soon", expires_at=at(3))
    issue("acme", "later", expires_at=at(10))
    issue("acme", "past", expires_at=at(-1))
    issue("acme", "never")
    revoked_id, _ = issue("acme", "revoked", expires_at=at(2))
    assert call_admin("DELETE", f"{CLIENTS}/{revoked_id}").status == 200
    rotated_id, old = issue("acme", "rotated", grace_seconds=3600)
    abrupt_id, _ = issue("acme", "abrupt", grace_seconds=0)
    new = call_admin("POST", f"{CLIENTS}/{rotated_id}/rotate").body["token"]
    assert call_admin("POST", f"{CLIENTS}/{abrupt_id}/rotate").status == 200
    sink.drain()

    from sweep import app

    report = app.handler({"source": "aws.events"}, FakeContext())  # type: ignore[arg-type]
    found = expiring(sink)
    assert set(found) == {("soon", "client"), ("rotated", "previous_token")}
    assert found[("soon", "client")].startswith(at(3)[:10])
    assert report["expiring"] == 1 and report["grace_ending"] == 1 and report["clients"] == 6
    for secret in (old, new):
        assert secret not in "".join(sink.raw) and tokens.digest(secret).hex() not in "".join(sink.raw)
    # A shorter window leaves the three-day expiry out.
    sweeper(days=1).run()
    assert set(expiring(sink)) == {("rotated", "previous_token")}


def test_the_sweep_reads_only_clients_whose_grace_window_may_not_have_ended(emulator: SecretsManagerEmulator) -> None:
    for n in range(5):
        issue("acme", f"client-{n}", expires_at=at(2))
    emulator.reset_counts()
    # Forty days later no change is recent enough to hold a grace window: no record is read.
    report = sweeper(clock=FakeClock(time.time() + 40 * 86400)).run()
    assert report.records_read == 0
    assert emulator.calls("GetSecretValue") == 1  # the keyring, for the imported tokens
    assert emulator.calls("ListSecrets") == 1


def test_a_failed_put_events_does_not_fail_the_sweep(
    emulator: SecretsManagerEmulator, captured_logs: Callable[[], str]
) -> None:
    client_id, _ = issue("acme", "soon", expires_at=at(1))
    emulator.inject(Fault("error", frozenset({"PutEvents"}), service=EVENTS))
    report = sweeper().run()
    assert report.expiring == 1
    failures = [json.loads(x) for x in captured_logs().splitlines() if "lifecycle events not delivered" in x]
    assert [f["client_ids"] for f in failures] == [[client_id]]


def imported_client(grace_seconds: int) -> tuple[str, str]:
    token = secrets.token_urlsafe(30)
    body = {"tenant": "acme", "client_name": f"legacy-{secrets.token_hex(3)}", "token": token}
    response = call_admin("POST", "/admin/imports", {**body, "grace_seconds": grace_seconds})
    assert response.status == 201, response.body
    return response.body["client"]["client_id"], token


def imported_map() -> Mapping[str, str]:
    return keyring.load(make_store(StoreSettings()))[0].imported


def test_an_imported_token_leaves_the_keyring_once_no_client_accepts_it(emulator: SecretsManagerEmulator) -> None:
    rotated_id, rotated_token = imported_client(grace_seconds=600)
    kept_id, kept_token = imported_client(grace_seconds=600)
    revoked_id, revoked_token = imported_client(grace_seconds=600)
    purged_id, purged_token = imported_client(grace_seconds=600)
    assert call_admin("POST", f"{CLIENTS}/{rotated_id}/rotate").status == 200
    assert call_admin("DELETE", f"{CLIENTS}/{revoked_id}").status == 200
    boto3.client("secretsmanager").delete_secret(
        SecretId=f"tokengate/clients/{purged_id}", ForceDeleteWithoutRecovery=True
    )
    digest = {name: tokens.digest(t).hex() for name, t in (("rotated", rotated_token), ("kept", kept_token))}
    digest |= {"revoked": tokens.digest(revoked_token).hex(), "purged": tokens.digest(purged_token).hex()}

    assert sweeper().run().imported_removed == 1  # the purged client's; the rotated one is in grace
    assert set(imported_map()) == {digest["rotated"], digest["kept"], digest["revoked"]}
    assert sweeper(clock=FakeClock(time.time() + 601)).run().imported_removed == 1
    assert imported_map() == {digest["kept"]: kept_id, digest["revoked"]: revoked_id}

    settings = AuthorizerSettings()
    authz = TokenAuthorizer(settings, store_factory=lambda: make_store(settings))
    assert authz.decide(kept_token, "GET", "ANY /invoke").reason is Reason.ALLOWED
    emulator.reset_counts()
    assert authz.decide(rotated_token, "GET", "ANY /invoke").reason is Reason.MALFORMED
    assert emulator.calls() == 0
    # A revoked client keeps its entry: restored, its callers work again.
    assert call_admin("POST", f"{CLIENTS}/{revoked_id}/restore").status == 200
    assert authz.decide(revoked_token, "GET", "ANY /invoke").reason is Reason.ALLOWED


# -- one client's bad data ------------------------------------------------------------------------------


def _renamed(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda record: json.dumps({**record, "client_name": name})


SECRET_SHAPED_NAME = "ab" * 32
#: Each kind of bad data one client can hold, and where the sweep reports that client.
BAD_DATA: dict[str, tuple[Callable[[dict[str, Any]], str], dict[str, str], str | None]] = {
    "value is not JSON": (lambda record: "{not json", {}, "unreadable"),
    "value breaks the record's rules": (lambda record: json.dumps({**record, "scopes": []}), {}, "unreadable"),
    "name shaped like a digest": (
        _renamed(SECRET_SHAPED_NAME),
        {"tokengate:client-name": SECRET_SHAPED_NAME},
        "failed",
    ),
    "name shaped like a token": (
        _renamed(f"tg_{'a' * 20}_x"),
        {"tokengate:client-name": f"tg_{'a' * 20}_x"},
        "failed",
    ),
    "expiry tag edited to garbage": (json.dumps, {"tokengate:expires-at": "tomorrow"}, None),
    "expiry tag without a zone": (
        json.dumps,
        {"tokengate:expires-at": "2030-01-01T00:00:00"},
        None,
    ),
}


@pytest.mark.parametrize("kinds", [[kind] for kind in BAD_DATA] + [list(BAD_DATA)], ids=[*BAD_DATA, "all at once"])
def test_one_clients_bad_data_skips_that_client_only_and_is_reported(
    kinds: list[str], captured_logs: Callable[[], str]
) -> None:
    sink = EventSink()
    issue("acme", "soon", expires_at=at(3))
    rotated_id, _ = issue("acme", "rotated", grace_seconds=3600)
    assert call_admin("POST", f"{CLIENTS}/{rotated_id}/rotate").status == 200
    bad: dict[str, str | None] = {}
    for n, kind in enumerate(kinds):
        client_id, _ = issue("acme", f"bad-{n}", expires_at=at(2), grace_seconds=3600)
        assert call_admin("POST", f"{CLIENTS}/{client_id}/rotate").status == 200  # a grace window to check
        change, tags, reported = BAD_DATA[kind]
        rewrite_record(client_id, change, tags)
        bad[client_id] = reported
    sink.drain()

    from sweep import app

    report = app.handler({"source": "aws.events"}, FakeContext())  # type: ignore[arg-type]
    found = expiring(sink)
    # Everyone else is told, as if the bad clients were not there.
    assert {("soon", "client"), ("rotated", "previous_token")} <= set(found)
    assert report["clients"] == 2 + len(kinds)
    assert sorted(report["unreadable"]) == sorted(c for c, where in bad.items() if where == "unreadable")  # type: ignore[call-overload]
    assert sorted(report["failed"]) == sorted(c for c, where in bad.items() if where == "failed")  # type: ignore[call-overload]
    skipped = [json.loads(x) for x in captured_logs().splitlines() if "sweep skipped clients" in x]
    expected = sum(where is not None for where in bad.values())
    if expected:
        (line,) = skipped
        assert line["SweepClientsSkipped"] == expected and line["level"] == "ERROR"
        assert SECRET_SHAPED_NAME not in json.dumps(line) and "tg_" not in json.dumps(line)
    else:
        assert skipped == []

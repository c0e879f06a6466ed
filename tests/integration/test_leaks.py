"""The leak endpoint, driven as API Gateway drives it: GitHub-signed alerts revoke live leaked tokens
of ours once, and anything unsigned, mis-signed or not ours changes nothing and costs no read."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import ADMIN_ARN, EventSink, FakeClock, FakeContext, call_admin, forged, issue, minted
from tests.support_github import SigningKey, alert_body, alert_event, write_key_list
from tokengate.emulator import DYNAMODB, EVENTS, Fault, SecretsManagerEmulator
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle import alerts, github
from tokengate_core.lifecycle.alerts import AlertMemory
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_GITHUB
from tokengate_core.lifecycle.leaks import MAX_BODY_BYTES, LeakResponder
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"
CURRENT, RETIRED, UNLISTED = SigningKey("current-key"), SigningKey("retired-key"), SigningKey("unlisted-key")


@pytest.fixture(autouse=True)
def github_keys(tmp_path: Path) -> Iterator[None]:
    """The leak function trusts the keys of a key-list file (GitHub's format): one current, one not."""
    from leaks import app

    path = write_key_list(tmp_path / "keys.json", CURRENT, RETIRED, current=CURRENT.key_id)
    saved = app.keys
    app.keys = github.GitHubKeys(url="https://example.invalid/keys", file=str(path), ttl=3600, timeout=1)
    yield
    app.keys = saved


def deliver(body: bytes, key: SigningKey | None = CURRENT, **kwargs: Any) -> tuple[int, Any]:
    from leaks import app

    response = app.handler(alert_event(body, key, **kwargs), _Deployed())  # type: ignore[arg-type]
    return response["statusCode"], json.loads(response["body"])


class _Deployed(FakeContext):
    """The time the deployed function has (its timeout): a thousand matches on a loaded machine
    must not run into a shorter test budget (a deadline has its own test below)."""

    def get_remaining_time_in_millis(self) -> int:
        return FUNCTIONS["leaks"].timeout_seconds * 1000


def state(client_id: str) -> str:
    return str(call_admin("GET", f"{CLIENTS}/{client_id}").body["status"])


def labels(feedback: list[dict[str, str]]) -> list[str]:
    return [item["label"] for item in feedback]


def test_a_signed_alert_revokes_each_live_leaked_client_and_answers_in_githubs_format(
    captured_logs: Callable[[], str],
) -> None:
    sink = EventSink()
    live_id, live = issue("acme", "live")
    rotated_id, old = issue("acme", "rotated", grace_seconds=600)
    new = call_admin("POST", f"{CLIENTS}/{rotated_id}/rotate").body["token"]
    other_id, other = issue("acme", "untouched")
    imported = secrets.token_urlsafe(32)
    imported_id = call_admin(
        "POST", "/admin/imports", {"tenant": "acme", "client_name": "legacy", "token": imported}
    ).body["client"]["client_id"]
    sink.drain()
    reported = [live, old, forged(tokens.new_key_id()), "zz_" + live[3:], "not-a-token-at-all", imported, live]
    status, feedback = deliver(alert_body(*reported))
    assert status == 200
    assert [item["token_raw"] for item in feedback] == reported
    assert {item["token_type"] for item in feedback} == {"tokengate_token"}
    assert labels(feedback) == [*["true_positive"] * 2, *["false_positive"] * 3, *["true_positive"] * 2]
    assert state(live_id) == state(rotated_id) == state(imported_id) == "revoked"
    assert state(other_id) == "active"
    events = sink.drain()
    leaked = [e["detail"] for e in events if e["detail-type"] == DetailType.LEAKED]
    revoked = [e["detail"] for e in events if e["detail-type"] == DetailType.REVOKED]
    assert sorted(d["client_id"] for d in leaked) == sorted(d["client_id"] for d in revoked)
    assert sorted(d["client_id"] for d in leaked) == sorted([live_id, rotated_id, imported_id])
    assert {d["actor"] for d in leaked + revoked} == {ACTOR_GITHUB}
    assert {d["action"] for d in leaked} == {"revoked"}
    assert {d["url"] for d in leaked} == {"https://github.com/octo/repo/blob/abc/config.env"}
    assert {d["source"] for d in leaked} == {"content"}
    logs = captured_logs()
    audits = [json.loads(x) for x in logs.splitlines() if '"audit_action":"leak"' in x.replace(" ", "")]
    assert {a["client_id"] for a in audits} == {live_id, rotated_id, imported_id}
    assert {a["url"] for a in audits} == {"https://github.com/octo/repo/blob/abc/config.env"}
    for secret in (live, old, new, other, imported):
        assert secret not in logs and secret not in "".join(sink.raw)
        assert tokens.digest(secret).hex() not in logs


def test_redelivery_and_replay_change_nothing(emulator: SecretsManagerEmulator) -> None:
    sink = EventSink()
    client_id, token = issue("acme", "leaky")
    sink.drain()
    body = alert_body(token)
    event_signature = CURRENT.sign(body)
    first = deliver(body, signature=event_signature)
    assert first[0] == 200 and labels(first[1]) == ["true_positive"]
    assert len(sink.drain()) == 2  # Token Leaked, Client Revoked
    emulator.reset_counts()
    assert deliver(body, signature=event_signature) == first  # the same request, again
    assert sink.drain() == []
    assert emulator.calls("DeleteSecret") == emulator.calls("TagResource") == 0
    assert state(client_id) == "revoked"


def test_a_replayed_alert_does_not_undo_a_restore(emulator: SecretsManagerEmulator) -> None:
    """GitHub's signature covers the body only, so a captured alert verifies forever: a replay
    after an admin restored the client is answered as before and changes nothing. The same token
    found at another URL is a new leak."""
    sink = EventSink()
    client_id, token = issue("acme", "leaky")
    body = alert_body(token)
    first = deliver(body)
    assert first[0] == 200 and state(client_id) == "revoked"
    assert call_admin("POST", f"{CLIENTS}/{client_id}/restore").status == 200
    sink.drain()
    emulator.reset_counts()
    assert deliver(body) == first, "the same feedback as the first time"
    assert state(client_id) == "active" and sink.drain() == []
    assert emulator.calls("TagResource") == emulator.calls("DeleteSecret") == 0
    assert emulator.calls("dynamodb:PutItem") == 0, "nothing new to remember"
    elsewhere = deliver(alert_body(token, url="https://gist.github.com/someone/0123abc"))
    assert elsewhere[0] == 200 and labels(elsewhere[1]) == ["true_positive"]
    assert state(client_id) == "revoked"
    # What is stored names no token: a digest of the token and URL, the label and times.
    table = boto3.client("dynamodb").scan(TableName=AdminSettings().table_name)["Items"]
    remembered = [item for item in table if item["pk"]["S"].startswith(alerts.KEY_PREFIX)]
    assert len(remembered) == 2 and token not in json.dumps(table)
    assert {item["label"]["S"] for item in remembered} == {"true_positive"}


def test_a_match_is_remembered_only_once_handled_and_a_lost_memory_never_delays_a_revoke(
    emulator: SecretsManagerEmulator,
) -> None:
    client_id, token = issue("acme", "leaky")
    other_id, other = issue("acme", "other")
    # DynamoDB down: the digest index cannot deny first, so nothing changes, and the answer asks
    # GitHub to deliver again.
    emulator.inject(Fault("error", service=DYNAMODB))
    status, _ = deliver(alert_body(token))
    emulator.inject(None)
    assert status == 503 and state(client_id) == "active"
    # Redelivered: handled now, and remembered; its replays then change nothing.
    assert deliver(alert_body(token))[0] == 200 and state(client_id) == "revoked"
    assert call_admin("POST", f"{CLIENTS}/{client_id}/restore").status == 200
    assert deliver(alert_body(token))[0] == 200 and state(client_id) == "active"
    # A match whose client could not be handled is not remembered: the redelivery acts.
    emulator.inject(Fault("error", frozenset({"GetSecretValue"})))
    assert deliver(alert_body(other))[0] == 503
    emulator.inject(None)
    assert state(other_id) == "active"
    assert deliver(alert_body(other))[0] == 200 and state(other_id) == "revoked"


def test_a_remembered_match_is_forgotten_after_its_time_even_before_dynamodb_deletes_it(
    emulator: SecretsManagerEmulator,
) -> None:
    memory = AlertMemory(boto3.client("dynamodb"), AdminSettings().table_name, clock=FakeClock(now=1_800_000_000.0))
    digest = alerts.match_digest("some token", "https://example.com/x")
    assert memory.recall(digest) is None
    memory.remember(digest, "true_positive")
    assert memory.recall(digest) == "true_positive"
    assert memory.recall(alerts.match_digest("some token", "https://example.com/y")) is None
    later = AlertMemory(
        boto3.client("dynamodb"),
        AdminSettings().table_name,
        clock=FakeClock(now=1_800_000_000.0 + alerts.MEMORY_DAYS * 86400),
    )
    assert later.recall(digest) is None, "past its time: DynamoDB's TTL may not have removed it yet"


@pytest.mark.parametrize(
    ("key", "signature", "reason"),
    [
        # Ids spelt out: an ECDSA signature differs on every signing, and xdist workers must agree.
        pytest.param(None, None, "unsigned", id="no-headers"),
        pytest.param(CURRENT, "", "unsigned", id="empty-signature"),
        pytest.param(CURRENT, RETIRED.sign(b"[]"), "invalid_signature", id="another-body"),
        pytest.param(CURRENT, "not base64", "invalid_signature", id="not-base64"),
        pytest.param(UNLISTED, None, "invalid_signature", id="unlisted-key"),  # a key GitHub does not list
    ],
)
def test_an_unsigned_or_mis_signed_alert_is_refused_with_no_side_effect(
    emulator: SecretsManagerEmulator, key: SigningKey | None, signature: str | None, reason: str
) -> None:
    client_id, token = issue("acme", "leaky")
    emulator.reset_counts()
    kwargs = {} if signature is None else {"signature": signature}
    status, body = deliver(alert_body(token), key, **kwargs)
    assert (status, body["code"]) == (401, reason)
    assert token not in json.dumps(body)
    assert emulator.calls() == 0, "not even a read"
    assert state(client_id) == "active"


def test_an_alert_signed_with_a_listed_key_that_is_not_current_is_accepted() -> None:
    client_id, token = issue("acme", "leaky")
    status, feedback = deliver(alert_body(token), RETIRED)
    assert status == 200 and labels(feedback) == ["true_positive"] and state(client_id) == "revoked"


def test_a_token_with_another_prefix_or_not_minted_here_is_a_false_positive_at_no_read(
    emulator: SecretsManagerEmulator,
) -> None:
    _, token = issue("acme", "leaky")
    reported = [
        tokens.token_format("acme_").generate(tokens.parse(token).key_id, lambda s: token[-22:-6]),
        forged(tokens.parse(token).key_id),
        token[:-1],
        "x" * 600,
        "",
    ]
    emulator.reset_counts()
    status, feedback = deliver(alert_body(*reported))
    assert status == 200 and labels(feedback) == ["false_positive"] * 5
    assert emulator.calls("GetSecretValue") == 1  # the keyring, once per alert
    assert emulator.calls() == 1


def test_an_already_revoked_or_superseded_token_is_ours_with_nothing_done() -> None:
    sink = EventSink()
    revoked_id, revoked = issue("acme", "gone")
    assert call_admin("DELETE", f"{CLIENTS}/{revoked_id}").status == 200
    rotated_id, old = issue("acme", "rotated", grace_seconds=0)
    assert call_admin("POST", f"{CLIENTS}/{rotated_id}/rotate").status == 200
    unknown = minted(tokens.new_key_id())  # minted here, for a client that does not exist
    sink.drain()
    status, feedback = deliver(alert_body(revoked, old, unknown))
    assert status == 200 and labels(feedback) == ["true_positive"] * 3
    assert state(rotated_id) == "active" and sink.drain() == []


def test_a_batch_of_a_thousand_matches_is_answered_in_order_reading_only_tokens_of_ours(
    emulator: SecretsManagerEmulator,
) -> None:
    live = [issue("acme", f"client-{n}") for n in range(40)]
    noise = [forged(tokens.new_key_id()) for _ in range(400)] + [secrets.token_urlsafe(24) for _ in range(400)]
    reported = [token for _, token in live] * 4 + noise  # every live token reported four times
    reported += [secrets.token_hex(8) for _ in range(40)]
    assert len(reported) == 1000
    emulator.reset_counts()
    status, feedback = deliver(alert_body(*reported))
    assert status == 200 and [item["token_raw"] for item in feedback] == reported
    assert labels(feedback)[:160] == ["true_positive"] * 160 and set(labels(feedback)[160:]) == {"false_positive"}
    assert emulator.calls("DeleteSecret") == 40
    # One read per client of ours (the duplicates and the noise cost none), plus the keyring.
    assert emulator.calls("GetSecretValue") == 40 + 1
    assert {state(client_id) for client_id, _ in live} == {"revoked"}


def test_disable_instead_of_revoke() -> None:
    from leaks import app

    sink = EventSink()
    client_id, token = issue("acme", "leaky")
    sink.drain()
    disabling = LeakResponder(app.admin_context, action="disable", events=app.pending, audit=app._audit)
    saved, app.responder = app.responder, disabling
    try:
        assert labels(deliver(alert_body(token))[1]) == ["true_positive"]
        assert state(client_id) == "disabled"
        assert labels(deliver(alert_body(token))[1]) == ["true_positive"]
    finally:
        app.responder = saved
    events = sink.drain()
    assert [e["detail-type"] for e in events] == [DetailType.UPDATED, DetailType.LEAKED]
    assert events[0]["detail"]["changed"] == ["enabled"] and events[1]["detail"]["action"] == "disabled"


#: Signed alerts whose JSON no parse may turn into a 500: nested deep (at the top, inside a match,
#: in objects), a number too long for Python's int, a constant that is not JSON, bytes that are not
#: UTF-8. Each is well under the 1 MiB body limit.
MALFORMED_ALERTS = (
    b"[" * 100_000 + b"]" * 100_000,
    b'[{"token": "t", "url": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]",
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'[{"token": "t", "source": ' + b"9" * 5_000 + b"}]",
    b'[{"token": "t", "type": NaN}]',
    b'[{"token": "\xff\xfe"}]',
)


def test_bodies_too_large_malformed_or_unverifiable_are_refused_with_no_side_effect(
    emulator: SecretsManagerEmulator, tmp_path: Path
) -> None:
    from leaks import app

    client_id, token = issue("acme", "leaky")
    emulator.reset_counts()
    big = b"[" + b" " * MAX_BODY_BYTES + b"]"
    assert deliver(big)[1]["code"] == "body_too_large"
    for body in (b"not json", b"{}", b"[]", b'[{"type": "x"}]', b'[{"token": 5}]', b'[{"token": "t", "url": 5}]'):
        status, answer = deliver(body)
        assert (status, answer["code"]) == (400, "invalid_report"), body
    for body in MALFORMED_ALERTS:
        status, answer = deliver(body)
        assert (status, answer["code"]) == (400, "invalid_report"), body[:40]
        assert token not in json.dumps(answer)
    app.keys = github.GitHubKeys(url="https://example.invalid", file=str(tmp_path / "missing.json"), ttl=60, timeout=1)
    status, answer = deliver(alert_body(token))
    assert (status, answer["code"]) == (503, "keys_unavailable")
    assert emulator.calls() == 0 and state(client_id) == "active"


def test_a_base64_body_is_verified_as_sent() -> None:
    from leaks import app

    client_id, token = issue("acme", "leaky")
    body = alert_body(token)
    event = alert_event(body, CURRENT)
    event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    response = app.handler(event, FakeContext())  # type: ignore[arg-type]
    assert response["statusCode"] == 200 and state(client_id) == "revoked"


def test_running_out_of_time_answers_503_and_the_redelivery_finishes(emulator: SecretsManagerEmulator) -> None:
    from leaks import app

    client_id, token = issue("acme", "leaky")
    responder = app.responder
    status = json.loads(
        app.handler(alert_event(alert_body(token), CURRENT), _Expiring())["body"]  # type: ignore[arg-type]
    )
    assert status["code"] == "incomplete" and state(client_id) == "active"
    assert responder is app.responder
    assert deliver(alert_body(token))[0] == 200 and state(client_id) == "revoked"


class _Expiring(FakeContext):
    def get_remaining_time_in_millis(self) -> int:
        return 1000  # less than the margin: nothing is started


def test_a_failed_put_events_never_fails_the_revocation(
    emulator: SecretsManagerEmulator, captured_logs: Callable[[], str]
) -> None:
    client_id, token = issue("acme", "leaky")
    emulator.inject(Fault("error", frozenset({"PutEvents"}), service=EVENTS))
    assert deliver(alert_body(token))[0] == 200 and state(client_id) == "revoked"
    assert "lifecycle events not delivered" in captured_logs()


def test_an_operator_reports_leaks_through_the_admin_api() -> None:
    sink = EventSink()
    client_id, token = issue("acme", "leaky")
    sink.drain()
    reported = [token, forged(tokens.new_key_id()), token]
    response = call_admin(
        "POST", "/admin/leaks", {"tokens": reported, "url": "https://paste.example/abc", "source": "paste"}
    )
    assert response.status == 200, response.body
    assert [r["label"] for r in response.body["results"]] == ["true_positive", "false_positive", "true_positive"]
    assert [r["state"] for r in response.body["results"]] == ["revoked", "not_ours", "revoked"]
    assert response.body["results"][0]["client_id"] == client_id
    assert token not in json.dumps(response.body)
    events = sink.drain()
    assert {e["detail"]["actor"] for e in events} == {ADMIN_ARN}
    (leaked,) = [e["detail"] for e in events if e["detail-type"] == DetailType.LEAKED]
    assert (leaked["url"], leaked["source"]) == ("https://paste.example/abc", "paste")
    again = call_admin("POST", "/admin/leaks", {"tokens": [token]})
    assert [r["state"] for r in again.body["results"]] == ["already_revoked"]
    assert call_admin("POST", "/admin/leaks", {"tokens": []}).status == 422
    assert call_admin("POST", "/admin/leaks", {"tokens": ["x"] * 101}).status == 422


def test_a_reporter_cannot_put_a_secret_into_an_event_or_the_audit(captured_logs: Callable[[], str]) -> None:
    sink = EventSink()
    _, token = issue("acme", "leaky")
    other = tokens.generate(tokens.new_key_id(), lambda s: "0" * tokens.TAG_LENGTH)
    encoded = "".join(f"%{byte:02x}" for byte in other.encode())
    url = f"https://example.com/{token}?also={encoded}&digest={tokens.digest(token).hex().upper()}#{other.upper()}"
    assert deliver(alert_body(token, url=url))[0] == 200
    (leaked,) = [e["detail"] for e in sink.drain() if e["detail-type"] == DetailType.LEAKED]
    assert leaked["url"] == "https://example.com/[redacted]?also=[redacted]&digest=[redacted]#[redacted]"
    printed = captured_logs()
    assert '"audit_action":"leak"' in printed and "?also=[redacted]" in printed
    for secret in (token, other, encoded):
        assert secret.lower() not in printed.lower()


def test_the_keys_are_read_once_per_ttl_not_per_alert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leaks import app

    path = write_key_list(tmp_path / "counted.json", CURRENT)
    reads: list[Path] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    app.keys = github.GitHubKeys(url="https://example.invalid", file=str(path), ttl=3600, timeout=1)
    for _ in range(5):
        assert deliver(alert_body("not-ours-at-all"))[0] == 200
    assert reads.count(path) == 1

"""No admin write commits and then fails: what can refuse a request refuses it before the first
write, and what follows the write that commits (the event, the audit line, the answer) never turns
it into an error. Of concurrent revokes or restores of one client, one reports the change."""

from __future__ import annotations

import functools
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.support import EventSink, FakeContext, call_admin, issue, rewrite_record, staged_version
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.admin import clients
from tokengate_core.admin.api import ClientView, IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.authorize.decision import TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import LifecycleEvent, UnsafeDetailError
from tokengate_core.records.rules import CLIENT_NAME_PATTERN
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"
NOW = datetime.fromisoformat("2026-11-25T08:00:00+00:00")

# -- names --------------------------------------------------------------------------------------------

#: Pieces shaped like a secret: the start of a token of any deployment, a SHA-256 in hex.
secret_shapes = st.one_of(
    st.from_regex(rf"\A{tokens.ANY_PREFIX_PATTERN}{tokens.KEY_ID_PATTERN}_[0-9A-Za-z]{{0,8}}\Z"),
    st.from_regex(r"\A[0-9a-f]{64}\Z"),
)
name_text = st.from_regex(r"\A[A-Za-z0-9._-]{0,12}\Z")
names = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z"),
    st.builds(lambda before, shape, after: before + shape + after, name_text, secret_shapes, name_text),
)
ISSUE_SAMPLES = ("ab" * 32, f"tg_{'a' * 20}_x")


def carried_by_events(name: str) -> bool:
    try:
        LifecycleEvent(DetailType.ISSUED, "acme", tokens.new_key_id(), name, "arn:aws:iam::1:user/a", NOW)
    except UnsafeDetailError:
        return False
    return True


@settings(max_examples=500)
@given(name=names)
def test_a_name_is_accepted_exactly_when_every_event_can_carry_it(name: str) -> None:
    """One rule (tokens.SECRET_SHAPED) for the name a body may give and what an event refuses: an
    accepted name never becomes a client whose events fail."""
    try:
        IssueClientRequest(client_name=name)
        accepted = True
    except ValidationError as error:
        accepted = False
        assert [e["loc"] for e in error.errors()] == [("client_name",)]
    assert accepted == (re.fullmatch(CLIENT_NAME_PATTERN, name) is not None and carried_by_events(name))


@pytest.mark.parametrize("name", ISSUE_SAMPLES)
def test_a_name_shaped_like_a_secret_is_refused_before_anything_is_written(
    emulator: SecretsManagerEmulator, name: str
) -> None:
    for path, body in (
        (CLIENTS, {"client_name": name}),
        ("/admin/imports", {"tenant": "acme", "client_name": name, "token": "Kx9v-q2Lm.Zr4T_w8", "allow_weak": True}),
    ):
        emulator.reset_counts()
        response = call_admin("POST", path, body)
        assert response.status == 422 and response.body["details"][0]["loc"] == ["body", "client_name"]
        assert name not in json.dumps(response.body)
        assert emulator.calls() == 0 and emulator.dynamodb_calls() == 0
    assert call_admin("GET", CLIENTS).body["items"] == []


def test_the_cli_never_prints_a_token_given_where_a_client_goes() -> None:
    from tokengate.cli.commands.clients.lookup import client_id
    from tokengate.cli.errors import CliError

    token = tokens.generate(tokens.new_key_id(), lambda signed: "0" * tokens.TAG_LENGTH)
    with pytest.raises(CliError) as refused:
        client_id(None, "acme", token)  # type: ignore[arg-type]
    assert token not in str(refused.value) and token not in repr(refused.value.args)


# -- what follows a commit ----------------------------------------------------------------------------


def undelivered(logs: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in logs.splitlines() if "lifecycle events not delivered" in x]


def current_token(client_id: str) -> str:
    value = boto3.client("secretsmanager").get_secret_value(SecretId=f"tokengate/clients/{client_id}")["SecretString"]
    return str(json.loads(value)["token"])


def works(token: str) -> bool:
    settings = AuthorizerSettings()
    return TokenAuthorizer(settings, lambda: make_store(settings)).decide(token, "GET", "ANY /invoke").allowed


def scheduled_rotation(client_id: str) -> None:
    from rotation import app as rotation

    arn = boto3.client("secretsmanager").describe_secret(SecretId=f"tokengate/clients/{client_id}")["ARN"]
    version = staged_version(arn)
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotation.handler({"Step": step, "SecretId": arn, "ClientRequestToken": version}, FakeContext())


def every_operation(client_id: str) -> Iterator[str]:
    """Each operation on the client, checked to have answered 2xx and to have taken effect."""
    patched = call_admin("PATCH", f"{CLIENTS}/{client_id}", {"scopes": ["GET /invoke"]})
    assert patched.status == 200 and patched.body["scopes"] == ["GET /invoke"], patched.body
    yield "update"
    rotated = call_admin("POST", f"{CLIENTS}/{client_id}/rotate")
    assert rotated.status == 200, rotated.body
    assert current_token(client_id) == rotated.body["token"]  # the rotated token is the one shown
    yield "rotate"
    scheduled_rotation(client_id)
    yield "scheduled rotation"
    revoked = call_admin("DELETE", f"{CLIENTS}/{client_id}")
    assert revoked.status == 200 and revoked.body["status"] == "revoked", revoked.body
    yield "revoke"
    restored = call_admin("POST", f"{CLIENTS}/{client_id}/restore")
    assert restored.status == 200 and restored.body["status"] != "revoked", restored.body
    yield "restore"
    leaked = call_admin("POST", "/admin/leaks", {"tokens": [current_token(client_id)]})
    assert leaked.status == 200 and leaked.body["results"][0]["state"] == "revoked", leaked.body
    yield "leak report"
    from sweep import app as sweep

    sweep.handler({"source": "aws.events"}, FakeContext())  # type: ignore[arg-type]
    yield "sweep"


#: Clients stored before a rule existed: a name shaped like a secret, an expiry at datetime's edge.
LEGACY: dict[str, tuple[Callable[[dict[str, Any]], str], dict[str, str], bool]] = {
    "name shaped like a digest": (
        lambda record: json.dumps({**record, "client_name": ISSUE_SAMPLES[0]}),
        {"tokengate:client-name": ISSUE_SAMPLES[0]},
        True,
    ),
    "name shaped like a token": (
        lambda record: json.dumps({**record, "client_name": ISSUE_SAMPLES[1]}),
        {"tokengate:client-name": ISSUE_SAMPLES[1]},
        True,
    ),
    "expiry at the start of datetime's range": (
        lambda record: json.dumps({**record, "expires_at": "0001-01-01T00:00:00+14:00"}),
        {},
        False,
    ),
    "expiry at the end of datetime's range": (
        lambda record: json.dumps({**record, "expires_at": "9999-12-31T23:59:59-14:00"}),
        {},
        False,
    ),
}


@pytest.mark.parametrize("kind", LEGACY)
def test_a_client_stored_before_a_rule_existed_can_still_be_changed(
    kind: str, captured_logs: Callable[[], str]
) -> None:
    client_id, _ = issue("acme", "legacy", token_fetch=True, grace_seconds=60, rotation_period_days=30)
    change, tags, events_refuse = LEGACY[kind]
    rewrite_record(client_id, change, tags)
    sink = EventSink()
    sink.drain()
    done = list(every_operation(client_id))
    refused = undelivered(captured_logs())
    delivered = sink.types()
    if events_refuse:
        # Every change happened; its event could not carry the name, and that is reported by id.
        assert delivered == []
        assert refused and all(r["client_ids"] == [client_id] for r in refused)
        assert all(r["reason"] == "refused: UnsafeDetailError" for r in refused)
        assert ISSUE_SAMPLES[0] not in captured_logs() and ISSUE_SAMPLES[1] not in captured_logs()
    else:
        assert refused == [] and len(delivered) >= len(done) - 1  # the sweep reports nothing here


def test_no_operation_fails_after_its_commit_whatever_its_event_does(
    monkeypatch: pytest.MonkeyPatch, captured_logs: Callable[[], str]
) -> None:
    """Every event refused (as by a bug, or a value a future rule refuses): each operation still
    answers 2xx and takes effect, and each refusal is reported."""
    client_id, _ = issue("acme", "plain", token_fetch=True, grace_seconds=60, rotation_period_days=30)

    def refuse(self: LifecycleEvent) -> None:
        raise UnsafeDetailError("refused for the test")

    monkeypatch.setattr(LifecycleEvent, "__post_init__", refuse)
    issued = call_admin("POST", CLIENTS, {"client_name": "another"})
    assert issued.status == 201 and works(issued.body["token"])
    imported = call_admin(
        "POST",
        "/admin/imports",
        {"tenant": "acme", "client_name": "imp", "token": "Kx9v-q2Lm.Zr4T_w8", "allow_weak": True},
    )
    assert imported.status == 201, imported.body
    done = ["issue", "import", *every_operation(client_id)]
    refused = undelivered(captured_logs())
    reported = {r["client_ids"][0] for r in refused}
    assert {client_id, issued.body["client"]["client_id"], imported.body["client"]["client_id"]} <= reported
    assert len(refused) >= len(done) - 1  # every change's event but the sweep's (nothing expires)


# -- concurrent revokes and restores --------------------------------------------------------------------


@pytest.fixture
def admin_context() -> AdminContext:
    from admin import app

    return app.admin_context


def actor(n: int) -> str:
    return f"arn:aws:iam::123456789012:user/admin-{n}"


def together(count: int, call: Callable[[int], Any]) -> list[Any]:
    """``count`` threads calling ``call(i)`` at once (the functions' shared code, as concurrent
    Lambda invocations run it), each result or exception in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = call(i)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def revoke_as(ctx: AdminContext, client_id: str, n: int) -> ClientView:
    return clients.revoke(ctx, "acme", client_id, actor(n))


def restore_as(ctx: AdminContext, client_id: str, n: int) -> ClientView:
    return clients.restore(ctx, "acme", client_id, actor(n))


def audited(logs: str, action: str, client_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in logs.splitlines() if x.startswith("{") and '"audit"' in x]
    return [line for line in lines if line.get("audit_action") == action and line.get("client_id") == client_id]


@pytest.mark.parametrize(
    ("change", "before", "after", "reported"),
    [(revoke_as, "active", "revoked", DetailType.REVOKED), (restore_as, "revoked", "active", DetailType.RESTORED)],
    ids=["revokes", "restores"],
)
def test_concurrent_changes_make_one_event_and_one_audit_line(
    admin_context: AdminContext,
    captured_logs: Callable[[], str],
    change: Callable[[AdminContext, str, int], ClientView],
    before: str,
    after: str,
    reported: DetailType,
) -> None:
    sink = EventSink()
    for _ in range(3):
        client_id, token = issue("acme", f"c-{uuid.uuid4().hex[:6]}")
        if before == "revoked":
            assert call_admin("DELETE", f"{CLIENTS}/{client_id}").status == 200
        sink.drain()
        views = together(8, functools.partial(change, admin_context, client_id))
        assert all(isinstance(v, ClientView) and v.status == after for v in views), views
        revokers = {actor(i) for i in range(8)} if after == "revoked" else {None}
        assert {v.revoked_by for v in views} <= revokers
        assert [e["detail-type"] for e in sink.drain()] == [reported]
        action = "revoke" if after == "revoked" else "restore"
        assert len(audited(captured_logs(), action, client_id)) == 1
        assert works(token) is (after == "active")
    # A later change of the same client is a new change: it reports again.
    opposite = restore_as if after == "revoked" else revoke_as
    for step in (opposite, change):
        step(admin_context, client_id, 0)
    assert sink.types()[-1] == reported


def either(ctx: AdminContext, client_id: str, n: int) -> ClientView:
    """Odd callers restore, even ones revoke."""
    return restore_as(ctx, client_id, n) if n % 2 else revoke_as(ctx, client_id, n)


def test_in_a_storm_of_revokes_and_restores_the_revoker_tag_follows_the_winning_state(
    admin_context: AdminContext,
) -> None:
    client_id, _ = issue("acme", "stormy")
    sm = boto3.client("secretsmanager")
    revokers = {actor(i) for i in range(0, 8, 2)}
    for _ in range(6):
        results = together(8, functools.partial(either, admin_context, client_id))
        described = sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")
        tags = {t["Key"]: t["Value"] for t in described.get("Tags", [])}
        shown = call_admin("GET", f"{CLIENTS}/{client_id}").body
        if "DeletedDate" in described:
            assert tags.get("tokengate:revoked-by") in revokers  # never removed by a restore that lost
            assert shown["status"] == "revoked" and shown["revoked_by"] in revokers
        else:
            assert shown["status"] == "active" and shown["revoked_by"] is None
        # Every call answered with the client as its change (or a concurrent one) left it.
        assert not [r for r in results if isinstance(r, Exception)], results


def test_a_revoke_that_lands_inside_a_restore_keeps_its_revoker_tag(
    admin_context: AdminContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storm's interleaving, made certain: a revoke runs whole between the restore's
    RestoreSecret and whatever the restore does next; the client ends revoked, naming its revoker."""
    client_id, _ = issue("acme", "interleaved")
    assert call_admin("DELETE", f"{CLIENTS}/{client_id}").status == 200
    store = admin_context.store
    real_restore = store.restore

    def restore_then_revoked(key_id: str) -> None:
        real_restore(key_id)
        monkeypatch.setattr(store, "restore", real_restore)
        clients.revoke(admin_context, "acme", key_id, actor(9))

    monkeypatch.setattr(store, "restore", restore_then_revoked)
    answered = clients.restore(admin_context, "acme", client_id, actor(1))
    assert answered.status == "revoked" and answered.revoked_by == actor(9)
    shown = call_admin("GET", f"{CLIENTS}/{client_id}").body
    assert shown["status"] == "revoked" and shown["revoked_by"] == actor(9)

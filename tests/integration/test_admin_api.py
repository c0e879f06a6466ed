"""The admin API through its Lambda handler, against the embedded Secrets Manager."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.support import ADMIN_ARN, AdminResponse, FakeContext, admin_event, call_admin, issue
from tests.unit.records.test_store import allowed_by_aws
from tokengate.emulator import Fault, SecretsManagerEmulator
from tokengate_core.admin import clients
from tokengate_core.admin.page_tokens import encode_page_token, page_token_key
from tokengate_core.deployment.routes import ADMIN_ROUTES
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


@pytest.fixture
def sm() -> Any:
    return boto3.client("secretsmanager")


@pytest.fixture
def admin_context() -> Iterator[Any]:
    from admin import app

    yield app.admin_context


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status == status, response.body
    assert response.body["code"] == code
    assert isinstance(response.body["message"], str) and response.body["message"]
    assert "Traceback" not in json.dumps(response.body)


# -- issue --------------------------------------------------------------------------------------------


def test_issue_returns_the_token_once_with_the_record() -> None:
    response = call_admin("POST", BASE, {"client_name": "ci-bot", "scopes": ["GET /invoke"], "ttl_seconds": 3600})
    assert response.status == 201
    assert response.headers.get("cache-control") == "no-store"
    body = response.body
    token = body["token"]
    client = body["client"]
    assert tokens.parse(token).key_id == client["client_id"]
    assert "shown once" in body["notice"]
    assert client["tenant"] == "acme" and client["client_name"] == "ci-bot"
    assert client["status"] == "active" and client["scopes"] == ["GET /invoke"]
    assert client["created_by"] == ADMIN_ARN
    expires = datetime.fromisoformat(client["expires_at"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=1)
    assert client["rotation"]["grace_seconds"] == 86400
    # Never again: neither show nor list carries it.
    shown = call_admin("GET", f"{BASE}/{client['client_id']}")
    listed = call_admin("GET", BASE)
    assert token not in json.dumps(shown.body) and token not in json.dumps(listed.body)
    assert "tg_" not in json.dumps(shown.body) + json.dumps(listed.body)


def test_secret_is_named_and_tagged_per_client(sm: Any) -> None:
    client_id, token = issue("acme", "ci-bot")
    described = sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags["tokengate:tenant"] == "acme"
    assert tags["tokengate:client-name"] == "ci-bot"
    value = json.loads(sm.get_secret_value(SecretId=f"tokengate/clients/{client_id}")["SecretString"])
    assert value["token"] == token and value["tenant"] == "acme"


def test_a_caller_arn_outside_the_tag_alphabet_is_tagged_sanitized_and_recorded_exactly(sm: Any) -> None:
    """A role session name may hold a ',' (no tag value may): tags get a clean copy, the record
    and the API's detail view keep the exact ARN."""
    caller = "arn:aws:sts::123456789012:assumed-role/Admins/alice@example.com,ops"
    response = call_admin("POST", BASE, {"client_name": "ci-bot", "ttl_seconds": 60}, caller_arn=caller)
    assert response.status == 201, response.body
    client_id = response.body["client"]["client_id"]
    assert call_admin("DELETE", f"{BASE}/{client_id}", caller_arn=caller).status == 200
    described = sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")
    values = [t["Value"] for t in described["Tags"]]
    assert len(values) == 6  # tenant, name, enabled, expiry, created-by, revoked-by
    assert all(allowed_by_aws(v) for v in values), values
    assert values.count(caller.replace(",", "_")) == 2
    assert call_admin("POST", f"{BASE}/{client_id}/restore").body["created_by"] == caller
    record = json.loads(sm.get_secret_value(SecretId=f"tokengate/clients/{client_id}")["SecretString"])
    assert record["created_by"] == record["updated_by"] == caller


def test_duplicate_name_in_a_tenant_conflicts_but_not_across_tenants() -> None:
    issue("acme", "ci-bot")
    assert_error(call_admin("POST", BASE, {"client_name": "ci-bot"}), 409, "conflict")
    issue("globex", "ci-bot")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"client_name": "has space"},
        {"client_name": "x", "scopes": []},
        {"client_name": "x", "scopes": ["invoke"]},
        {"client_name": "x", "unknown": True},
        {"client_name": "x", "ttl_seconds": 3600, "expires_at": "2030-01-01T00:00:00Z"},
        {"client_name": "x", "expires_at": "2030-01-01T00:00:00"},
        {"client_name": "x", "rotation_period_days": 0},
        {"client_name": "x", "grace_seconds": -1},
        {"client_name": "x", "reader_arn": "not-an-arn"},
    ],
)
def test_invalid_issue_bodies_are_422_and_change_nothing(body: dict[str, Any]) -> None:
    assert_error(call_admin("POST", BASE, body), 422, "validation_error")
    assert call_admin("GET", BASE).body["items"] == []


def test_invalid_json_is_400() -> None:
    assert_error(call_admin("POST", BASE, raw_body="{not json"), 400, "invalid_json")


def test_invalid_tenant_is_422() -> None:
    assert_error(call_admin("GET", "/admin/tenants/Not_Valid/clients"), 422, "validation_error")


def test_no_iam_identity_is_refused() -> None:
    assert_error(call_admin("POST", BASE, {"client_name": "x"}, caller_arn=None), 403, "forbidden")
    assert call_admin("GET", BASE).body["items"] == []


def test_unknown_route_is_a_json_404() -> None:
    assert_error(call_admin("GET", "/admin/nothing-here"), 404, "route_not_found")


def test_every_route_of_the_table_is_served() -> None:
    client_id, _ = issue("acme", "ci-bot")
    bodies: dict[str, Any] = {
        "issue_client": {"client_name": "other"},
        "update_client": {"enabled": True},
        "import_client": {"tenant": "acme", "client_name": "imported", "token": secrets.token_urlsafe(30)},
        "report_leaks": {"tokens": [secrets.token_urlsafe(30)]},
    }
    for route in ADMIN_ROUTES:
        path = route.path.replace("{tenant}", "acme").replace("{client_id}", client_id)
        response = call_admin(route.method, path, bodies.get(route.name))
        assert response.status in (200, 201), (route, response.body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        # Another tenant's path behind this tenant's: what an IAM wildcard spanning "/" would admit.
        ("GET", f"{BASE}/x/admin/tenants/globex/clients"),
        ("GET", "/admin/tenants/globex/clients/x/admin/tenants/acme/clients"),
        ("POST", f"{BASE}/x/y/rotate"),
        ("GET", f"{BASE}/"),
        ("GET", "/admin/tenants/acme"),
        ("PUT", BASE),
        ("DELETE", BASE),
        ("HEAD", BASE),
        ("POST", f"{BASE}/x/revoke"),
        ("GET", "/admin/openapi.json/x"),
    ],
)
def test_a_path_outside_the_routes_is_refused(method: str, path: str) -> None:
    issue("globex", "ci-bot")
    response = call_admin(method, path)
    assert_error(response, 404, "route_not_found")
    assert "ci-bot" not in json.dumps(response.body)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/admin/tenants/%61cme/clients", 422, "validation_error"),
        ("/admin/tenants/globex%2F..%2Facme/clients", 422, "validation_error"),
        ("/admin/tenants/acme%2Fclients", 404, "route_not_found"),
    ],
)
def test_an_encoded_tenant_segment_names_no_tenant(path: str, status: int, code: str) -> None:
    """Should IAM see the decoded path, the function still never reads another tenant from it."""
    issue("acme", "ci-bot")
    response = call_admin("GET", path)
    assert_error(response, status, code)
    assert "ci-bot" not in json.dumps(response.body)


def test_a_path_outside_the_stage_is_refused() -> None:
    """Powertools would drop the first len("/dev") characters whatever they are."""
    issue("acme", "ci-bot")
    event = admin_event("GET", BASE)
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/xyz{BASE}"
    response = handle(event)
    assert_error(response, 404, "route_not_found")
    assert call_admin("GET", BASE).body["items"] != []


def handle(event: dict[str, Any]) -> AdminResponse:
    from admin import app as admin_app

    raw = admin_app.handler(event, FakeContext())
    return AdminResponse(raw["statusCode"], json.loads(raw.get("body") or "null"), raw.get("headers") or {})


def test_reader_principal_gets_a_resource_policy(sm: Any) -> None:
    reader = "arn:aws:iam::123456789012:role/billing-service"
    client_id, _ = issue("acme", "billing", reader_arn=reader)
    policy = json.loads(sm.get_resource_policy(SecretId=f"tokengate/clients/{client_id}")["ResourcePolicy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"AWS": reader}
    assert statement["Action"] == "secretsmanager:GetSecretValue"


# -- list / show ----------------------------------------------------------------------------------------


def test_list_pages_through_every_client_exactly_once() -> None:
    names = {f"c{i}" for i in range(7)}
    for name in names:
        issue("acme", name)
    issue("acme-2", "c0")  # a tenant whose id starts with "acme" must not leak in
    seen: list[str] = []
    next_token = None
    for _ in range(10):
        query = {"limit": "3", **({"next_token": next_token} if next_token else {})}
        page = call_admin("GET", BASE, query=query)
        assert page.status == 200
        assert len(page.body["items"]) <= 3
        seen += [item["client_name"] for item in page.body["items"]]
        assert all(item["tenant"] == "acme" for item in page.body["items"])
        next_token = page.body["next_token"]
        if not next_token:
            break
    assert sorted(seen) == sorted(names)


def test_list_filters_by_status() -> None:
    active_id, _ = issue("acme", "active")
    disabled_id, _ = issue("acme", "disabled")
    revoked_id, _ = issue("acme", "revoked")
    call_admin("PATCH", f"{BASE}/{disabled_id}", {"enabled": False})
    call_admin("DELETE", f"{BASE}/{revoked_id}")

    def ids(status: str | None) -> set[str]:
        query = {"status": status} if status else None
        return {item["client_id"] for item in call_admin("GET", BASE, query=query).body["items"]}

    assert ids(None) == {active_id, disabled_id, revoked_id}
    assert ids("active") == {active_id}
    assert ids("disabled") == {disabled_id}
    assert ids("revoked") == {revoked_id}
    assert_error(call_admin("GET", BASE, query={"status": "weird"}), 422, "validation_error")
    assert_error(call_admin("GET", BASE, query={"limit": "0"}), 422, "validation_error")


def test_a_name_is_looked_up_in_one_read_revoked_clients_included(emulator: SecretsManagerEmulator) -> None:
    billing_id, _ = issue("acme", "billing")
    issue("acme", "other")
    issue("globex", "billing")
    call_admin("DELETE", f"{BASE}/{billing_id}")

    def named(name: str, **query: str) -> list[str]:
        response = call_admin("GET", BASE, query={"name": name, **query})
        assert response.status == 200, response.body
        assert response.body["next_token"] is None
        return [item["client_id"] for item in response.body["items"]]

    emulator.reset_counts()
    assert named("billing") == [billing_id]  # revoked, and still found: it can be restored by name
    assert emulator.calls("ListSecrets") == 0 and emulator.calls("DescribeSecret") == 1
    assert named("billing", status="revoked") == [billing_id]
    assert named("billing", status="active") == []
    assert named("nobody") == []
    assert_error(call_admin("GET", BASE, query={"name": "-bad name"}), 422, "validation_error")
    assert_error(call_admin("GET", BASE, query={"name": "billing", "next_token": "x"}), 400, "invalid_request")


def test_show_and_tenant_isolation() -> None:
    client_id, _ = issue("acme", "ci-bot")
    shown = call_admin("GET", f"{BASE}/{client_id}")
    assert shown.status == 200 and shown.body["client_id"] == client_id
    other = call_admin("GET", f"/admin/tenants/globex/clients/{client_id}")
    assert_error(other, 404, "not_found")
    assert "ci-bot" not in json.dumps(other.body)
    assert_error(call_admin("GET", f"{BASE}/{tokens.new_key_id()}"), 404, "not_found")
    assert_error(call_admin("GET", f"{BASE}/../../etc"), 404, "route_not_found")
    assert_error(call_admin("GET", f"{BASE}/NOT-A-KEY"), 404, "not_found")
    # Another tenant can change nothing either.
    for method, suffix, body in (
        ("PATCH", "", {"enabled": False}),
        ("DELETE", "", None),
        ("POST", "/rotate", None),
        ("POST", "/restore", None),
    ):
        assert_error(call_admin(method, f"/admin/tenants/globex/clients/{client_id}{suffix}", body), 404, "not_found")
    assert call_admin("GET", f"{BASE}/{client_id}").body["status"] == "active"


# -- update ---------------------------------------------------------------------------------------------


def test_update_changes_only_what_is_given() -> None:
    client_id, token = issue("acme", "ci-bot", scopes=["GET /invoke"], ttl_seconds=600)
    updated = call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False, "scopes": ["ANY /invoke"]})
    assert updated.status == 200
    assert updated.body["status"] == "disabled" and updated.body["scopes"] == ["ANY /invoke"]
    assert updated.body["updated_by"] == ADMIN_ARN
    assert updated.body["expires_at"] is not None
    cleared = call_admin("PATCH", f"{BASE}/{client_id}", {"expires_at": None, "enabled": True})
    assert cleared.body["expires_at"] is None and cleared.body["status"] == "active"
    listed = call_admin("GET", BASE).body["items"][0]
    assert listed["expires_at"] is None and listed["enabled"] is True
    # The token itself is untouched by an update.
    from authorizer import app

    app.authorizer.reset()
    assert app.authorizer.decide(token, "GET", "ANY /invoke").allowed


@pytest.mark.parametrize(
    "body", [{}, {"enabled": None}, {"scopes": None}, {"scopes": ["bad"]}, {"client_name": "rename"}]
)
def test_invalid_updates_are_422(body: dict[str, Any]) -> None:
    client_id, _ = issue("acme", "ci-bot")
    assert_error(call_admin("PATCH", f"{BASE}/{client_id}", body), 422, "validation_error")


def test_update_of_a_revoked_client_conflicts() -> None:
    client_id, _ = issue("acme", "ci-bot")
    call_admin("DELETE", f"{BASE}/{client_id}")
    assert_error(call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False}), 409, "conflict")
    assert_error(call_admin("POST", f"{BASE}/{client_id}/rotate"), 409, "conflict")


# -- revoke / restore -----------------------------------------------------------------------------------


def test_revoke_is_recoverable_idempotent_and_audited(sm: Any) -> None:
    client_id, _ = issue("acme", "ci-bot")
    first = call_admin("DELETE", f"{BASE}/{client_id}")
    again = call_admin("DELETE", f"{BASE}/{client_id}")
    assert first.status == again.status == 200
    assert first.body["status"] == again.body["status"] == "revoked"
    assert first.body["revoked_by"] == ADMIN_ARN and first.body["revoked_at"]
    assert "DeletedDate" in sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")
    # Restoring brings it back, also idempotently; the name stays taken meanwhile.
    assert_error(call_admin("POST", BASE, {"client_name": "ci-bot"}), 409, "conflict")
    restored = call_admin("POST", f"{BASE}/{client_id}/restore")
    assert restored.status == 200 and restored.body["status"] == "active"
    assert restored.body["revoked_by"] is None
    assert call_admin("POST", f"{BASE}/{client_id}/restore").body["status"] == "active"


def test_restore_of_unknown_client_is_404() -> None:
    assert_error(call_admin("POST", f"{BASE}/{tokens.new_key_id()}/restore"), 404, "not_found")


# -- rotate ---------------------------------------------------------------------------------------------


def test_rotate_returns_a_new_token_and_keeps_the_old_in_grace() -> None:
    client_id, old = issue("acme", "ci-bot", grace_seconds=300)
    response = call_admin("POST", f"{BASE}/{client_id}/rotate")
    assert response.status == 200
    assert response.headers.get("cache-control") == "no-store"
    new = response.body["token"]
    assert new != old and tokens.parse(new).key_id == client_id
    grace_until = datetime.fromisoformat(response.body["client"]["rotation"]["previous_token_valid_until"])
    assert timedelta(seconds=290) < grace_until - datetime.now(UTC) <= timedelta(seconds=300)
    assert response.body["client"]["rotated_at"]


# -- schedule ---------------------------------------------------------------------------------------------


def test_rotation_schedule_is_set_where_a_rotation_function_is_deployed(
    admin_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Any]] = []
    arn = "arn:aws:lambda:us-east-1:123456789012:function:rotation"
    monkeypatch.setattr(
        admin_context, "settings", admin_context.settings.model_copy(update={"rotation_function_arn": arn})
    )
    monkeypatch.setattr(
        admin_context.store, "schedule_rotation", lambda key, fn, days: calls.append(("on", (fn, days)))
    )
    monkeypatch.setattr(admin_context.store, "cancel_rotation", lambda key: calls.append(("off", key)))
    client_id, _ = issue("acme", "ci-bot", rotation_period_days=30, token_fetch=True)
    assert calls == [("on", (arn, 30))]
    call_admin("PATCH", f"{BASE}/{client_id}", {"rotation_period_days": 7})
    call_admin("PATCH", f"{BASE}/{client_id}", {"scopes": ["*"]})  # unchanged schedule: no call
    call_admin("PATCH", f"{BASE}/{client_id}", {"rotation_period_days": None})
    assert calls == [("on", (arn, 30)), ("on", (arn, 7)), ("off", client_id)]


# -- faults: 503 and nothing half-done -------------------------------------------------------------------


def test_backend_failure_on_issue_is_503_and_leaves_no_orphan(emulator: SecretsManagerEmulator) -> None:
    emulator.inject(Fault("throttle", frozenset({"CreateSecret"})))
    assert_error(call_admin("POST", BASE, {"client_name": "ci-bot"}), 503, "backend_unavailable")
    emulator.inject(Fault("error", frozenset({"PutResourcePolicy"})))
    reader = "arn:aws:iam::123456789012:role/reader"
    assert_error(call_admin("POST", BASE, {"client_name": "ci-bot", "reader_arn": reader}), 503, "backend_unavailable")
    emulator.inject(None)
    assert call_admin("GET", BASE).body["items"] == []
    issue("acme", "ci-bot")  # the name is free


def test_a_revoke_whose_secret_step_fails_denies_anyway_and_completes_when_repeated(
    emulator: SecretsManagerEmulator,
) -> None:
    from authorizer import app
    from tokengate_core.authorize.decision import Reason

    client_id, token = issue("acme", "ci-bot")
    emulator.inject(Fault("error", frozenset({"DeleteSecret"})))
    assert_error(call_admin("DELETE", f"{BASE}/{client_id}"), 503, "backend_unavailable")
    emulator.inject(None)
    # The index denied before the secret step failed: the secret is live, its token is not.
    assert call_admin("GET", f"{BASE}/{client_id}").body["status"] == "active"
    app.authorizer.reset()
    assert app.authorizer.decide(token, "GET", "ANY /invoke").reason is Reason.REVOKED
    assert call_admin("DELETE", f"{BASE}/{client_id}").status == 200
    assert call_admin("GET", f"{BASE}/{client_id}").body["status"] == "revoked"


def test_backend_failure_on_update_leaves_the_client_as_it_was(emulator: SecretsManagerEmulator) -> None:
    client_id, _ = issue("acme", "ci-bot")
    emulator.inject(Fault("error", frozenset({"TagResource"})))
    assert_error(call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False}), 503, "backend_unavailable")
    emulator.inject(None)
    assert call_admin("GET", f"{BASE}/{client_id}").body["status"] == "active"
    assert call_admin("GET", BASE).body["items"][0]["enabled"] is True


def test_reads_answer_503_when_the_backend_is_down(emulator: SecretsManagerEmulator) -> None:
    client_id, _ = issue("acme", "ci-bot")
    emulator.inject(Fault("error"))
    assert_error(call_admin("GET", BASE), 503, "backend_unavailable")
    assert_error(call_admin("GET", f"{BASE}/{client_id}"), 503, "backend_unavailable")


def test_unexpected_errors_are_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(clients, "get", boom)
    response = call_admin("GET", f"{BASE}/{tokens.new_key_id()}")
    assert_error(response, 500, "internal_error")
    assert "unexpected" not in json.dumps(response.body)


# -- audit and logs ----------------------------------------------------------------------------------------


def test_every_change_is_audited_without_tokens(captured_logs: Callable[[], str]) -> None:
    client_id, token = issue("acme", "ci-bot")
    call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False})
    rotated = call_admin("POST", f"{BASE}/{client_id}/rotate").body["token"]
    call_admin("DELETE", f"{BASE}/{client_id}")
    call_admin("POST", f"{BASE}/{client_id}/restore")
    call_admin("POST", BASE, {"client_name": "bad name", "scopes": [token]})
    logs = captured_logs()
    audits = [json.loads(line) for line in logs.splitlines() if '"audit"' in line and line.startswith("{")]
    assert [a["audit_action"] for a in audits] == ["issue", "update", "rotate", "revoke", "restore"]
    for entry in audits:
        assert entry["actor"] == ADMIN_ARN and entry["tenant"] == "acme" and entry["client_id"] == client_id
    assert token not in logs and rotated not in logs


# -- OpenAPI -------------------------------------------------------------------------------------------------


def test_openapi_document_describes_every_route() -> None:
    response = call_admin("GET", "/admin/openapi.json")
    assert response.status == 200
    doc = response.body
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    base = "/admin/tenants/{tenant}/clients"
    assert set(paths[base]) == {"get", "post"}
    assert set(paths[base + "/{client_id}"]) == {"get", "patch", "delete"}
    assert "post" in paths[base + "/{client_id}/restore"] and "post" in paths[base + "/{client_id}/rotate"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert documented == {(r.method, r.path) for r in ADMIN_ROUTES if r.name != "openapi"}
    schemas = doc["components"]["schemas"]
    assert {"IssueClientRequest", "UpdateClientRequest", "ClientView", "ErrorBody"} <= set(schemas)


# -- concurrency: optimistic writes -------------------------------------------------------------------------


def test_two_writes_from_the_same_base_version_cannot_both_win(
    admin_context: Any, sm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two admins rotate at once: both read version V; only one new version may be built on V,
    otherwise one of them would hold a token that was returned as current but never worked."""
    client_id, _ = issue("acme", "ci-bot")
    base = admin_context.store.read(client_id)
    monkeypatch.setattr(admin_context.store, "read", lambda key_id, **_: base)  # both "read" before either writes
    first = call_admin("POST", f"{BASE}/{client_id}/rotate")
    second = call_admin("POST", f"{BASE}/{client_id}/rotate")
    assert first.status == 200
    assert_error(second, 409, "conflict")
    assert "concurrently" in second.body["message"]
    patched = call_admin("PATCH", f"{BASE}/{client_id}", {"enabled": False})
    assert_error(patched, 409, "conflict")
    current = sm.get_secret_value(SecretId=f"tokengate/clients/{client_id}", VersionStage="AWSCURRENT")
    assert json.loads(current["SecretString"])["token"] == first.body["token"]


def test_concurrent_revokes_leave_the_client_revoked_with_its_revoker(
    admin_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client_id, _ = issue("acme", "ci-bot")
    live = admin_context.store.describe(client_id)
    real_describe = admin_context.store.describe
    calls = iter([live])  # the second revoke still sees the client as live
    monkeypatch.setattr(admin_context.store, "describe", lambda key_id: next(calls, None) or real_describe(key_id))
    assert call_admin("DELETE", f"{BASE}/{client_id}").status == 200
    calls = iter([live])
    second = call_admin("DELETE", f"{BASE}/{client_id}")
    assert second.status == 200
    assert second.body["status"] == "revoked" and second.body["revoked_by"] == ADMIN_ARN


def _first_page_token() -> str:
    for i in range(3):
        issue("acme", f"c{i}")
        issue("globex", f"c{i}")
    page = call_admin("GET", BASE, query={"limit": "1"})
    token: str = page.body["next_token"]
    assert token
    return token


def _refused_without_a_backend_call(emulator: SecretsManagerEmulator, tenant: str, next_token: str) -> None:
    emulator.reset_counts()
    response = call_admin("GET", f"/admin/tenants/{tenant}/clients", query={"next_token": next_token})
    assert_error(response, 400, "invalid_request")
    assert emulator.calls("ListSecrets") == 0, next_token  # at most the keyring was read


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_page_tokens_continue_the_listing() -> None:
    token = _first_page_token()
    second = call_admin("GET", BASE, query={"limit": "1", "next_token": token})
    assert second.status == 200 and len(second.body["items"]) == 1


def test_a_page_token_from_another_tenant_is_refused(emulator: SecretsManagerEmulator) -> None:
    token = _first_page_token()
    _refused_without_a_backend_call(emulator, "globex", token)
    _refused_without_a_backend_call(emulator, "acme-2", token)


def test_altered_page_tokens_are_refused(emulator: SecretsManagerEmulator) -> None:
    token = _first_page_token()
    payload, mac = token.split(".")
    altered = [_flip(token, at) for at in range(len(token)) if token[at] != "."]
    altered += [token[:-1], token[1:], token + "A", f"{payload}.", f".{mac}", f"{payload}{mac}", f"{mac}.{payload}"]
    altered += [f"{payload}A.{mac}", f"{payload}.{mac[:-1]}", token.swapcase(), token + "=", token.replace(".", "=")]
    for value in altered:
        assert value != token
        _refused_without_a_backend_call(emulator, "acme", value)


def test_forged_page_tokens_are_refused(emulator: SecretsManagerEmulator) -> None:
    """A token made with anything but this deployment's key carries a real NextToken in vain."""
    token = _first_page_token()
    payload = token.split(".")[0]
    next_token = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    unsigned = base64.urlsafe_b64encode(
        json.dumps({"v": 1, "tenant": "acme", "next": next_token}).encode()
    ).decode()  # this API's earlier, unsigned format
    other_deployment = encode_page_token("acme", next_token, page_token_key(keyring.new_keyring(0.0)))
    no_key = encode_page_token("acme", next_token, b"")
    bare = hashlib.sha256(f"acme\0{payload}".encode()).digest()
    checksum = f"{payload}.{base64.urlsafe_b64encode(bare).decode().rstrip('=')}"
    for forged in (unsigned.rstrip("="), other_deployment, no_key, checksum, next_token):
        _refused_without_a_backend_call(emulator, "acme", forged)


@pytest.mark.parametrize(
    "garbage",
    [
        "x",
        ".",
        "..",
        "[Filtered]",
        "eyJ2IjoxfQ",
        "%%%",
        "a" * 4096,
        "é." + "A" * 43,
        "\u0000",
        "A" * 43,
        "." + "A" * 43,
    ],
)
def test_garbage_page_tokens_are_refused(emulator: SecretsManagerEmulator, garbage: str) -> None:
    _refused_without_a_backend_call(emulator, "acme", garbage)


def test_page_tokens_work_on_any_container_of_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page token is checked with a key every container derives alike: none is drawn at random."""
    from tokengate.local.runtime import load_module_copy

    token = _first_page_token()
    other_container = load_module_copy("admin.app")
    event = admin_event("GET", BASE, query={"limit": "1", "next_token": token})
    response = other_container.handler(event, FakeContext())
    assert response["statusCode"] == 200, response["body"]
    assert len(json.loads(response["body"])["items"]) == 1
    monkeypatch.setenv("TOKENGATE_SECRET_PREFIX", "another/deployment/")
    another_deployment = load_module_copy("admin.app")
    refused = another_deployment.handler(event, FakeContext())
    assert (refused["statusCode"], json.loads(refused["body"])["code"]) == (400, "invalid_request")

"""A tenant's guardrails through the admin handler, against the embedded Secrets Manager and
DynamoDB: each limit on issue and update, the defaults a new client gets, what happens to clients
made before, two admins writing at once, DynamoDB failing, and who may loosen them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import AdminResponse, call_admin, issue, rewrite_record
from tokengate.emulator import DYNAMODB, Fault, SecretsManagerEmulator

pytestmark = pytest.mark.usefixtures("emulator")
RAILS = "/admin/tenants/acme/guardrails"
OVERRIDE = "/admin/guardrails/acme"
CLIENTS = "/admin/tenants/acme/clients"


def rails(**fields: Any) -> dict[str, Any]:
    """Guardrails as the API answers them: every field, null where there is no limit."""
    none = ("max_lifetime_days", "max_rotation_period_days", "allowed_scopes", "default_usage_policy")
    return {**dict.fromkeys(none), **fields}


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def put(body: dict[str, Any], path: str = RAILS) -> AdminResponse:
    return call_admin("PUT", path, body)


def refused(response: AdminResponse, status: int, code: str) -> str:
    assert (response.status, response.body["code"]) == (status, code), response.body
    return str(response.body["message"])


@pytest.fixture
def reserved_loosening(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deployment reserves loosening to its own admins (guardrail_loosening: deployment_admins)."""
    from admin import app as admin_app

    settings = admin_app.admin_context.settings.model_copy(update={"guardrail_loosening": "deployment_admins"})
    monkeypatch.setattr(admin_app.admin_context, "settings", settings)
    yield


def test_a_tenant_without_guardrails_has_none_and_any_client_goes() -> None:
    shown = call_admin("GET", RAILS)
    assert shown.status == 200
    assert shown.body == {
        "tenant": "acme",
        "guardrails": rails(),
        "version": 0,
        "updated_at": None,
        "updated_by": None,
        "loosening": "tenant_admins",
        "violations": [],
        "violations_complete": True,
    }
    assert call_admin("POST", CLIENTS, {"client_name": "free"}).status == 201


def test_max_lifetime_refuses_a_missing_or_distant_expiry_on_issue_and_update(emulator: SecretsManagerEmulator) -> None:
    assert put({"max_lifetime_days": 30}).body["version"] == 1
    emulator.reset_counts()
    for body in ({}, {"expires_at": in_days(31)}, {"ttl_seconds": 31 * 86400}):
        message = refused(call_admin("POST", CLIENTS, {"client_name": "c", **body}), 422, "guardrail_violation")
        assert "30 days" in message
    # Refused before anything was written: no client, no name claimed.
    assert call_admin("GET", CLIENTS).body["items"] == [] and emulator.calls("dynamodb:PutItem") == 0
    client_id, _ = issue("acme", "c", ttl_seconds=30 * 86400)
    client = f"{CLIENTS}/{client_id}"
    refused(call_admin("PATCH", client, {"expires_at": None}), 422, "guardrail_violation")
    refused(call_admin("PATCH", client, {"expires_at": in_days(40)}), 422, "guardrail_violation")
    assert call_admin("PATCH", client, {"expires_at": in_days(10)}).status == 200


def test_required_rotation_refuses_a_missing_or_longer_period() -> None:
    put({"max_rotation_period_days": 30})
    message = refused(call_admin("POST", CLIENTS, {"client_name": "r"}), 422, "guardrail_violation")
    assert "rotation_period_days is required" in message and "token_fetch" in message
    slow = {"client_name": "r", "rotation_period_days": 31, "token_fetch": True}
    refused(call_admin("POST", CLIENTS, slow), 422, "guardrail_violation")
    client_id, _ = issue("acme", "r", rotation_period_days=30, token_fetch=True)
    refused(call_admin("PATCH", f"{CLIENTS}/{client_id}", {"rotation_period_days": None}), 422, "guardrail_violation")
    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"rotation_period_days": 7}).status == 200


def test_allowed_scopes_refuse_others_and_are_a_new_clients_default() -> None:
    put({"allowed_scopes": ["GET /reports/**", "POST /reports/drafts"]})
    for scopes in (["*"], ["ANY /reports/x"], ["GET /reports/a", "DELETE /reports/a"]):
        message = refused(
            call_admin("POST", CLIENTS, {"client_name": "s", "scopes": scopes}), 422, "guardrail_violation"
        )
        assert "outside the tenant's allowed_scopes" in message
    narrow = call_admin("POST", CLIENTS, {"client_name": "narrow", "scopes": ["GET /reports/2026/*"]})
    assert narrow.status == 201
    default = call_admin("POST", CLIENTS, {"client_name": "default"})
    assert default.status == 201
    assert default.body["client"]["scopes"] == ["GET /reports/**", "POST /reports/drafts"]


def test_the_default_usage_policy_goes_to_new_clients_that_bring_none() -> None:
    policy = {"quota": {"limit": 1000, "period": "day"}, "on_limit": "tell_integration"}
    put({"default_usage_policy": policy})
    plain = call_admin("POST", CLIENTS, {"client_name": "plain"}).body["client"]
    assert (
        plain["quota"] == {"limit": 1000, "period": "day", "thresholds": None}
        and plain["on_limit"] == "tell_integration"
    )
    own = {"rate_limit": {"requests_per_second": 5, "burst": 5}}
    custom = call_admin("POST", CLIENTS, {"client_name": "custom", **own}).body["client"]
    assert custom["rate_limit"] == {"requests_per_second": 5.0, "burst": 5}
    assert custom["quota"] is None and custom["on_limit"] == "deny"


def test_a_default_usage_policy_is_refused_where_usage_control_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from admin import app as admin_app

    settings = admin_app.admin_context.settings.model_copy(update={"usage_control": False})
    monkeypatch.setattr(admin_app.admin_context, "settings", settings)
    refused(put({"default_usage_policy": {"quota": {"limit": 5, "period": "day"}}}), 400, "usage_control_disabled")
    assert call_admin("GET", RAILS).body["version"] == 0


def test_existing_clients_that_break_new_guardrails_are_listed_kept_and_held_at_their_next_update() -> None:
    forever, _ = issue("acme", "forever")
    compliant, _ = issue("acme", "compliant", ttl_seconds=86400, scopes=["GET /invoke"])
    answer = put({"max_lifetime_days": 30, "allowed_scopes": ["GET /invoke"]})
    assert answer.status == 200 and answer.body["violations_complete"] is True
    (violation,) = answer.body["violations"]
    assert violation["client_id"] == forever and violation["client_name"] == "forever"
    assert len(violation["problems"]) == 2
    assert call_admin("GET", RAILS).body["violations"] == answer.body["violations"]
    # Not changed by the guardrails: still active, still with its scopes and no expiry.
    kept = call_admin("GET", f"{CLIENTS}/{forever}").body
    assert kept["status"] == "active" and kept["expires_at"] is None and kept["scopes"] == ["*"]
    # Turning it off (and on) is always allowed; any other update must bring it within them.
    assert call_admin("PATCH", f"{CLIENTS}/{forever}", {"enabled": False}).status == 200
    refused(call_admin("PATCH", f"{CLIENTS}/{forever}", {"grace_seconds": 60}), 422, "guardrail_violation")
    fixed = call_admin("PATCH", f"{CLIENTS}/{forever}", {"expires_at": in_days(7), "scopes": ["GET /invoke"]})
    assert fixed.status == 200
    assert call_admin("GET", RAILS).body["violations"] == []
    assert compliant


@pytest.mark.parametrize(
    "body",
    [
        {"max_lifetime_days": -1},
        {"max_lifetime_days": 10**12},
        {"max_lifetime_days": 1.5},
        {"max_rotation_period_days": 0},
        {"allowed_scopes": ["not a scope"]},
        {"allowed_scopes": []},
        {"default_usage_policy": {"quota": {"limit": -1, "period": "day"}}},
        {"default_usage_policy": {"rate_limit": {"requests_per_second": 1e-300, "burst": 1}}},
        {"max_lifetime_days": 7, "max_rotation_period_days": 30},
        {"version": -1},
        {"unknown": True},
    ],
)
def test_nonsense_is_refused_before_anything_is_written(emulator: SecretsManagerEmulator, body: dict[str, Any]) -> None:
    emulator.reset_counts()
    refused(put(body), 422, "validation_error")
    assert emulator.dynamodb_calls() == 0


def test_of_two_admins_writing_from_one_version_one_wins() -> None:
    assert put({"max_lifetime_days": 90}).body["version"] == 1
    first = put({"max_lifetime_days": 60, "version": 1})
    assert first.status == 200 and first.body["version"] == 2
    refused(put({"max_lifetime_days": 30, "version": 1}), 409, "conflict")
    assert call_admin("GET", RAILS).body["guardrails"] == rails(max_lifetime_days=60)


def test_concurrent_first_writes_race_on_one_conditional_put() -> None:
    answers: list[AdminResponse] = []
    start = threading.Barrier(4)

    def write(days: int) -> None:
        start.wait()
        answers.append(put({"max_lifetime_days": days, "version": 0}))

    threads = [threading.Thread(target=write, args=(days,)) for days in (10, 20, 30, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [a for a in answers if a.status == 200]
    assert len(won) == 1 and sorted(a.status for a in answers) == [200, 409, 409, 409]
    shown = call_admin("GET", RAILS).body
    assert shown["version"] == 1 and shown["guardrails"] == won[0].body["guardrails"]


@pytest.mark.parametrize("kind", ["error", "throttle"])
def test_dynamodb_failing_is_a_503_with_nothing_written(emulator: SecretsManagerEmulator, kind: str) -> None:
    put({"max_lifetime_days": 30})
    emulator.inject(Fault(kind, service=DYNAMODB))  # type: ignore[arg-type]
    refused(put({"max_lifetime_days": 7}), 503, "backend_unavailable")
    refused(call_admin("GET", RAILS), 503, "backend_unavailable")
    refused(call_admin("POST", CLIENTS, {"client_name": "x", "ttl_seconds": 3600}), 503, "backend_unavailable")
    emulator.inject(None)
    assert call_admin("GET", RAILS).body["guardrails"] == rails(max_lifetime_days=30)
    assert call_admin("GET", CLIENTS).body["items"] == []


def test_a_failing_write_after_the_read_changes_nothing(emulator: SecretsManagerEmulator) -> None:
    put({"max_lifetime_days": 30})
    emulator.inject(Fault("error", frozenset({"PutItem"}), service=DYNAMODB))
    refused(put({"max_lifetime_days": 7}), 503, "backend_unavailable")
    emulator.inject(None)
    shown = call_admin("GET", RAILS).body
    assert shown["version"] == 1 and shown["guardrails"] == rails(max_lifetime_days=30)


def test_a_tenants_guardrails_are_its_own() -> None:
    put({"max_lifetime_days": 1})
    assert call_admin("POST", "/admin/tenants/globex/clients", {"client_name": "free"}).status == 201
    assert call_admin("GET", "/admin/tenants/globex/guardrails").body["version"] == 0


@pytest.mark.usefixtures("reserved_loosening")
def test_where_the_deployment_reserves_loosening_the_tenant_route_only_tightens() -> None:
    put({"max_lifetime_days": 30, "allowed_scopes": ["GET /**"]})
    assert call_admin("GET", RAILS).body["loosening"] == "deployment_admins"
    tighter = put({"max_lifetime_days": 7, "allowed_scopes": ["GET /reports/*"], "max_rotation_period_days": 7})
    assert tighter.status == 200
    for looser in (
        {"max_lifetime_days": 8, "allowed_scopes": ["GET /reports/*"], "max_rotation_period_days": 7},
        {"max_lifetime_days": 7, "allowed_scopes": ["GET /**"], "max_rotation_period_days": 7},
        {"max_lifetime_days": 7, "allowed_scopes": ["GET /reports/*"]},
        {},
    ):
        message = refused(put(looser), 403, "guardrail_loosening_reserved")
        assert "PUT /admin/guardrails/{tenant}" in message
    assert call_admin("GET", RAILS).body["version"] == 2
    assert put({}, OVERRIDE).status == 200
    assert call_admin("GET", RAILS).body["guardrails"] == rails()


def test_by_default_the_tenant_route_loosens_too() -> None:
    put({"max_lifetime_days": 7})
    assert put({"max_lifetime_days": 30}).status == 200


def test_each_write_is_audited_with_its_caller(captured_logs: Callable[[], str]) -> None:
    put({"max_lifetime_days": 30})
    put({}, OVERRIDE)
    lines = [json.loads(x) for x in captured_logs().splitlines() if '"set_guardrails"' in x]
    assert [(x["version"], x["loosened"]) for x in lines] == [(1, []), (2, ["max_lifetime_days"])]
    assert all(x["actor"].startswith("arn:aws:iam::") and x["tenant"] == "acme" for x in lines)


def test_an_import_is_held_to_the_guardrails_too() -> None:
    put({"max_lifetime_days": 30})
    body = {"tenant": "acme", "client_name": "imported", "token": "Kx9v-q2Lm.Zr4T_w8-Pq7Ys3Nb", "allow_weak": True}
    refused(call_admin("POST", "/admin/imports", body), 422, "guardrail_violation")
    assert call_admin("POST", "/admin/imports", {**body, "ttl_seconds": 86400}).status == 201


def test_an_update_is_a_503_with_nothing_written_when_the_guardrails_cannot_be_read(
    emulator: SecretsManagerEmulator,
) -> None:
    client_id, _ = issue("acme", "c", ttl_seconds=86400, scopes=["GET /invoke"])
    put({"max_lifetime_days": 30})
    emulator.inject(Fault("error", service=DYNAMODB))
    refused(call_admin("PATCH", f"{CLIENTS}/{client_id}", {"scopes": ["*"]}), 503, "backend_unavailable")
    emulator.inject(None)
    assert call_admin("GET", f"{CLIENTS}/{client_id}").body["scopes"] == ["GET /invoke"]


def test_an_expiry_limit_is_checked_from_the_listing_alone(emulator: SecretsManagerEmulator) -> None:
    forever, _ = issue("acme", "forever")
    issue("acme", "brief", ttl_seconds=3600)
    emulator.reset_counts()
    (violation,) = put({"max_lifetime_days": 1}).body["violations"]
    assert violation["client_id"] == forever and violation["problems"][0].startswith("expires_at is required")
    assert emulator.calls("GetSecretValue") == 0


def test_violations_say_when_not_every_client_was_examined(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokengate_core.admin import guardrails

    names = ("a", "b", "c")
    ids = [issue("acme", name)[0] for name in names]
    put({"allowed_scopes": ["GET /invoke"]})
    shown = call_admin("GET", RAILS).body
    assert shown["violations_complete"] is True and len(shown["violations"]) == 3
    monkeypatch.setattr(guardrails, "MAX_EXAMINED", 2)
    shown = call_admin("GET", RAILS).body
    assert shown["violations_complete"] is False and len(shown["violations"]) == 2
    monkeypatch.undo()
    rewrite_record(ids[0], lambda value: "not a record")
    shown = call_admin("GET", RAILS).body
    assert shown["violations_complete"] is False
    assert {v["client_id"] for v in shown["violations"]} == set(ids[1:])


@pytest.mark.usefixtures("reserved_loosening")
def test_a_guardrails_item_that_cannot_be_read_fails_closed_until_set_again() -> None:
    import boto3

    from tokengate_core.deployment.config import AdminSettings

    put({"max_lifetime_days": 30})
    key = {"pk": {"S": "guardrails#acme"}, "sk": {"S": "guardrails"}}
    boto3.client("dynamodb").update_item(
        TableName=AdminSettings().table_name,
        Key=key,
        UpdateExpression="SET settings = :s",
        ExpressionAttributeValues={":s": {"S": '{"max_lifetime_days": "forever"}'}},
    )
    for response in (
        call_admin("GET", RAILS),
        call_admin("POST", CLIENTS, {"client_name": "c", "ttl_seconds": 3600}),
        put({"max_lifetime_days": 7}),  # the tenant route cannot show it does not loosen them
    ):
        assert "PUT /admin/guardrails/{tenant}" in refused(response, 500, "corrupt_record")
    repaired = put({"max_lifetime_days": 7}, OVERRIDE)
    assert repaired.status == 200 and repaired.body["version"] == 2
    assert call_admin("POST", CLIENTS, {"client_name": "c", "ttl_seconds": 3600}).status == 201


def test_the_openapi_document_describes_the_guardrails_and_their_limits() -> None:
    document = call_admin("GET", "/admin/openapi.json").body
    paths = document["paths"]
    assert set(paths["/admin/tenants/{tenant}/guardrails"]) == {"get", "put"}
    assert set(paths["/admin/guardrails/{tenant}"]) == {"put"}
    schemas = document["components"]["schemas"]
    body = schemas["SetGuardrailsRequest"]["properties"]
    lifetime = next(option for option in body["max_lifetime_days"]["anyOf"] if option.get("type") == "integer")
    assert (lifetime["minimum"], lifetime["maximum"]) == (1, 3660)
    assert {"allowed_scopes", "max_rotation_period_days", "default_usage_policy", "version"} <= set(body)
    assert {"violations", "violations_complete", "loosening", "version"} <= set(schemas["GuardrailsView"]["properties"])
    put_responses = paths["/admin/tenants/{tenant}/guardrails"]["put"]["responses"]
    assert {"200", "403", "409", "422", "503"} <= set(put_responses)

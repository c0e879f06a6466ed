"""Rotated tokens that reach their clients: a schedule needs a delivery path, GET /token hands a
client its rotated token for the one it holds, only when asked for, and never logs it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support import authorizer_event, call_admin, issue, mistyped, staged_version
from tokengate_core.deployment.config import StoreSettings
from tokengate_core.errors import RotationError
from tokengate_core.lifecycle.rotation import Rotator
from tokengate_core.runtime.aws import make_store

pytestmark = pytest.mark.usefixtures("emulator")
BASE = "/admin/tenants/acme/clients"


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
        Rotator(make_store(StoreSettings())).run("createSecret", arn, staged_version(arn))
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
    # Whatever the authorizer's cache says by now (the change feed evicts within about a second),
    # delivery reads the record itself.
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

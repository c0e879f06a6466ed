"""Rotated tokens that reach their clients: a schedule needs a delivery path, GET /token hands a
client its rotated token for the one it holds, only when asked for, and never logs it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support import authorizer_event, call_admin, issue, staged_version
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


def call_delivery(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The authorizer, then (if it allows) the delivery function, as the stage chains them."""
    from authorizer import app as authorizer_app
    from delivery import app as delivery_app

    decision = authorizer_app.handler(authorizer_event(token, route_key="GET /token", path="/token"), None)
    if not decision["isAuthorized"]:
        return decision, {}
    event = {"requestContext": {"authorizer": {"lambda": decision["context"]}}}
    return decision, delivery_app.handler(event, None)


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
    assert (
        json.loads(delivery_app.handler({"requestContext": {"authorizer": {"lambda": context}}}, None)["body"])["token"]
        == token
    )
    assert call_admin("PATCH", f"{BASE}/{client_id}", {"token_fetch": False}).status == 200
    refused = delivery_app.handler({"requestContext": {"authorizer": {"lambda": context}}}, None)
    assert refused["statusCode"] == 403
    assert json.loads(refused["body"])["code"] == "token_fetch_disabled"
    foreign = delivery_app.handler(
        {"requestContext": {"authorizer": {"lambda": {"tenant": "globex", "client_id": client_id}}}}, None
    )
    assert foreign["statusCode"] == 403
    assert delivery_app.handler({}, None)["statusCode"] == 403
    assert token not in captured_logs()

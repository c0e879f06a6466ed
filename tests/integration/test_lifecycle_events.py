"""Lifecycle events through real PutEvents calls to the embedded moto's EventBridge: each change is
one event on the bus, whoever made it; a failed PutEvents never fails the change and is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.support import ADMIN_ARN, EventSink, FakeContext, call_admin, issue, staged_version
from tokengate.emulator import EVENTS, Fault, SecretsManagerEmulator
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_ROTATION, METRIC_EVENTS_FAILED, SOURCE
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"


@pytest.fixture
def sink() -> EventSink:
    return EventSink()


def assert_no_secret(sink: EventSink, *secrets: str) -> None:
    """No delivered event holds a token, a token's digest, or the hex of one."""
    text = "\n".join(sink.raw)
    for secret in secrets:
        assert secret not in text
        assert tokens.digest(secret).hex() not in text
        assert secret.split("_")[-1] not in text


def test_each_admin_change_is_one_event_naming_the_actor_and_the_changed_fields(sink: EventSink) -> None:
    client_id, token = issue("acme", "billing", scopes=["GET /invoke"], ttl_seconds=3600)
    (issued,) = sink.drain()
    assert issued["source"] == SOURCE and issued["detail-type"] == DetailType.ISSUED
    detail = issued["detail"]
    assert detail["tenant"] == "acme" and detail["client_id"] == client_id and detail["client_name"] == "billing"
    assert detail["actor"] == ADMIN_ARN
    assert detail["changed"] == ["scopes", "ttl_seconds"]
    assert detail["expires_at"].endswith("Z") and detail["time"].endswith("Z")

    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"enabled": False, "scopes": ["*"]}).status == 200
    (updated,) = sink.drain()
    assert updated["detail-type"] == DetailType.UPDATED and updated["detail"]["changed"] == ["enabled", "scopes"]

    rotated = call_admin("POST", f"{CLIENTS}/{client_id}/rotate")
    assert rotated.status == 200
    (event,) = sink.drain()
    assert event["detail-type"] == DetailType.ROTATED and event["detail"]["actor"] == ADMIN_ARN
    assert event["detail"]["previous_token_valid_until"] == rotated.body["client"]["rotation"][
        "previous_token_valid_until"
    ].replace("+00:00", "Z")

    assert call_admin("DELETE", f"{CLIENTS}/{client_id}").status == 200
    (revoked,) = sink.drain()
    assert revoked["detail-type"] == DetailType.REVOKED and revoked["detail"]["recovery_window_days"] == 7
    assert call_admin("DELETE", f"{CLIENTS}/{client_id}").status == 200
    assert sink.drain() == [], "a revoke that changes nothing is no event"

    assert call_admin("POST", f"{CLIENTS}/{client_id}/restore").status == 200
    assert sink.types() == [DetailType.RESTORED]
    assert call_admin("POST", f"{CLIENTS}/{client_id}/restore").status == 200
    assert sink.drain() == []
    assert_no_secret(sink, token, rotated.body["token"])


def test_a_refused_change_is_no_event(sink: EventSink) -> None:
    issue("acme", "billing")
    sink.drain()
    assert call_admin("POST", CLIENTS, {"client_name": "billing"}).status == 409
    assert call_admin("PATCH", f"{CLIENTS}/{tokens.new_key_id()}", {"enabled": False}).status == 404
    assert sink.drain() == []


def test_a_scheduled_rotation_is_reported_once_by_finish_secret(sink: EventSink) -> None:
    from rotation import app as rotation

    client_id, token = issue("acme", "device", rotation_period_days=30, token_fetch=True, grace_seconds=600)
    sink.drain()
    arn = boto3.client("secretsmanager").describe_secret(SecretId=f"tokengate/clients/{client_id}")["ARN"]
    version = staged_version(arn)
    for step in ("createSecret", "setSecret", "testSecret"):
        rotation.handler({"Step": step, "SecretId": arn, "ClientRequestToken": version}, FakeContext())
    assert sink.drain() == [], "nothing happened to the client until finishSecret"
    for _ in range(2):  # Secrets Manager may retry the step: still one event
        rotation.handler({"Step": "finishSecret", "SecretId": arn, "ClientRequestToken": version}, FakeContext())
    (event,) = sink.drain()
    assert event["detail-type"] == DetailType.ROTATED
    assert event["detail"]["actor"] == ACTOR_SCHEDULED_ROTATION and event["detail"]["client_id"] == client_id
    assert event["detail"]["previous_token_valid_until"].endswith("Z")
    assert_no_secret(sink, token)


@pytest.mark.parametrize(
    "fault",
    [Fault(kind, frozenset({"PutEvents"}), service=EVENTS) for kind in ("error", "throttle", "failed_entries")],
    ids=["5xx", "throttled", "FailedEntryCount"],
)
def test_a_failed_put_events_never_fails_the_change_and_is_logged_and_counted(
    emulator: SecretsManagerEmulator, sink: EventSink, fault: Fault, captured_logs: Callable[[], str]
) -> None:
    emulator.inject(fault)
    emulator.reset_counts()
    client_id, token = issue("acme", "billing")  # 201 all the same
    assert emulator.calls(f"{EVENTS}:PutEvents") == 3, "bounded retries"
    emulator.inject(None)
    assert call_admin("GET", f"{CLIENTS}/{client_id}").status == 200
    assert sink.drain() == []
    (line,) = [json.loads(x) for x in captured_logs().splitlines() if "lifecycle events not delivered" in x]
    assert line["level"] == "ERROR" and line["client_ids"] == [client_id]
    assert line["detail_types"] == [DetailType.ISSUED] and line[METRIC_EVENTS_FAILED] == 1
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": METRIC_EVENTS_FAILED, "Unit": "Count"}]
    assert directive["Dimensions"] == [["service"]] and line["service"] == "tokengate-admin"
    assert token not in json.dumps(line)
    # The next change goes out again.
    assert call_admin("PATCH", f"{CLIENTS}/{client_id}", {"enabled": False}).status == 200
    assert sink.types() == [DetailType.UPDATED]


def test_a_bus_that_does_not_exist_is_a_failed_delivery_too(captured_logs: Callable[[], str]) -> None:
    from tokengate_core.deployment.config import AdminSettings
    from tokengate_core.lifecycle.events import LifecycleEvent
    from tokengate_core.runtime.aws import make_publisher

    publisher = make_publisher(AdminSettings(event_bus_name="no-such-bus"), "tokengate-admin")
    event = LifecycleEvent(DetailType.RESTORED, "acme", tokens.new_key_id(), "svc", ADMIN_ARN, _now())
    publisher.publish([event])  # returns: never raises
    failures = [json.loads(x) for x in captured_logs().splitlines() if "lifecycle events not delivered" in x]
    assert [f["reason"] for f in failures] == ["ResourceNotFoundException"]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)

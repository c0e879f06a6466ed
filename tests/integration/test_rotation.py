"""Secrets Manager's four-step rotation, driven exactly as the service drives it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from tests.support import FakeClock, FakeContext, call_admin, issue
from tokengate.emulator import Fault, SecretsManagerEmulator
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AuthorizerSettings, RotationSettings
from tokengate_core.errors import RotationError
from tokengate_core.lifecycle.rotation import Rotator, parse_event
from tokengate_core.runtime.aws import make_store
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


@pytest.fixture
def sm() -> Any:
    return boto3.client("secretsmanager")


def secret_arn(sm: Any, client_id: str) -> str:
    return str(sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")["ARN"])


def run_step(step: str, arn: str, token: str) -> None:
    from rotation import app as rotation

    rotation.handler({"Step": step, "SecretId": arn, "ClientRequestToken": token}, FakeContext())


def current_stages(sm: Any, client_id: str) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=f"tokengate/clients/{client_id}")["VersionIdsToStages"])


def current_token(sm: Any, client_id: str) -> str:
    value = sm.get_secret_value(SecretId=f"tokengate/clients/{client_id}", VersionStage="AWSCURRENT")["SecretString"]
    return str(json.loads(value)["token"])


def fresh_decision(token: str, clock: FakeClock | None = None) -> Reason:
    settings = AuthorizerSettings()
    authz = TokenAuthorizer(settings, lambda: make_store(settings), clock=clock or time.time)
    return authz.decide(token, "GET", "ANY /invoke").reason


def assert_single_current(sm: Any, client_id: str) -> None:
    stages = current_stages(sm, client_id)
    assert sum("AWSCURRENT" in s for s in stages.values()) == 1


def test_four_steps_rotate_with_grace(sm: Any) -> None:
    client_id, old = issue("acme", "bot", grace_seconds=600)
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    for step in STEPS:
        run_step(step, arn, version)
    new = current_token(sm, client_id)
    assert new != old and tokens.parse(new).key_id == client_id
    assert "AWSCURRENT" in current_stages(sm, client_id)[version]
    assert_single_current(sm, client_id)
    assert fresh_decision(new) is Reason.ALLOWED
    assert fresh_decision(old) is Reason.ALLOWED  # in grace
    later = FakeClock(time.time() + 601)
    assert fresh_decision(old, later) is Reason.WRONG_SECRET
    assert fresh_decision(new, later) is Reason.ALLOWED


def test_every_step_is_idempotent_on_retry(sm: Any) -> None:
    client_id, old = issue("acme", "bot")
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    for step in STEPS:
        run_step(step, arn, version)
        run_step(step, arn, version)  # Secrets Manager may deliver a step twice
    stages = current_stages(sm, client_id)
    assert len(stages) == 2  # the original and exactly one new version
    assert_single_current(sm, client_id)
    assert fresh_decision(current_token(sm, client_id)) is Reason.ALLOWED
    assert fresh_decision(old) is Reason.ALLOWED


@pytest.mark.parametrize("stop_after", range(4))
def test_interrupted_rotation_never_locks_the_client_out(sm: Any, stop_after: int) -> None:
    client_id, old = issue("acme", "bot")
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    for step in STEPS[: stop_after + 1]:
        run_step(step, arn, version)
    # Whatever happened so far, the client has a valid token...
    live = current_token(sm, client_id)
    assert fresh_decision(live) is Reason.ALLOWED
    assert fresh_decision(old) is Reason.ALLOWED
    # ...and the retried rotation completes with one current token and the old one in grace.
    for step in STEPS[stop_after:]:
        run_step(step, arn, version)
    assert_single_current(sm, client_id)
    assert current_token(sm, client_id) != old
    assert fresh_decision(current_token(sm, client_id)) is Reason.ALLOWED
    assert fresh_decision(old) is Reason.ALLOWED


@pytest.mark.parametrize(
    ("failing_step", "operation"),
    [
        ("createSecret", "PutSecretValue"),
        ("testSecret", "GetSecretValue"),
        ("finishSecret", "UpdateSecretVersionStage"),
    ],
)
def test_a_step_that_fails_then_is_retried_ends_consistent(
    sm: Any, emulator: SecretsManagerEmulator, failing_step: str, operation: str
) -> None:
    client_id, old = issue("acme", "bot")
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    for step in STEPS:
        if step == failing_step:
            emulator.inject(Fault("error", frozenset({operation})))
            with pytest.raises(Exception):  # noqa: B017 - the service sees a failed invocation
                run_step(step, arn, version)
            emulator.inject(None)
            assert fresh_decision(old) is Reason.ALLOWED
        run_step(step, arn, version)
    assert_single_current(sm, client_id)
    new = current_token(sm, client_id)
    assert new != old
    assert fresh_decision(new) is Reason.ALLOWED and fresh_decision(old) is Reason.ALLOWED


def test_steps_refuse_a_version_that_is_not_pending(sm: Any) -> None:
    client_id, _ = issue("acme", "bot")
    arn = secret_arn(sm, client_id)
    for step in ("setSecret", "testSecret", "finishSecret"):
        with pytest.raises(RotationError, match="no stage"):
            run_step(step, arn, str(uuid.uuid4()))
    # The version that is already current is simply done.
    current = next(v for v, s in current_stages(sm, client_id).items() if "AWSCURRENT" in s)
    run_step("finishSecret", arn, current)
    run_step("createSecret", arn, current)
    assert len(current_stages(sm, client_id)) == 1


def test_an_admin_write_supersedes_a_rotation_in_flight(sm: Any) -> None:
    client_id, old = issue("acme", "bot")
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    run_step("createSecret", arn, version)
    assert call_admin("PATCH", f"/admin/tenants/acme/clients/{client_id}", {"scopes": ["GET /invoke"]}).status == 200
    with pytest.raises(RotationError, match="not AWSPENDING"):
        run_step("finishSecret", arn, version)
    assert current_token(sm, client_id) == old
    shown = call_admin("GET", f"/admin/tenants/acme/clients/{client_id}").body
    assert shown["scopes"] == ["GET /invoke"]
    assert fresh_decision(old) is Reason.ALLOWED


def test_a_stale_pending_version_is_not_promoted(sm: Any) -> None:
    client_id, old = issue("acme", "bot", grace_seconds=600)
    arn, version = secret_arn(sm, client_id), str(uuid.uuid4())
    clock = FakeClock(time.time())
    rotator = Rotator(make_store(RotationSettings()), clock)
    rotator.run("createSecret", arn, version)
    clock.advance(301)  # more than half the grace window has passed since the pending was made
    with pytest.raises(RotationError, match="stale"):
        rotator.run("finishSecret", arn, version)
    assert current_token(sm, client_id) == old
    # The next rotation starts over with a fresh pending version and completes.
    fresh = str(uuid.uuid4())
    for step in STEPS:
        rotator.run(step, arn, fresh)  # type: ignore[arg-type]
    assert_single_current(sm, client_id)
    assert current_token(sm, client_id) != old


def test_configuration_test_without_pending_value_passes(sm: Any) -> None:
    """RotateSecret(RotateImmediately=false) runs only testSecret, on a version with no new value yet."""
    client_id, old = issue("acme", "bot")
    arn = secret_arn(sm, client_id)
    rotator = Rotator(make_store(RotationSettings()))
    version = str(uuid.uuid4())
    sm.put_secret_value(
        SecretId=arn,
        ClientRequestToken=version,
        SecretString=sm.get_secret_value(SecretId=arn)["SecretString"],
        VersionStages=["AWSPENDING"],
    )
    assert rotator.run("testSecret", arn, version) == "pending version valid"
    assert current_token(sm, client_id) == old


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        {"Step": "dropSecret", "SecretId": "x", "ClientRequestToken": "y"},
        {"Step": "createSecret", "SecretId": "", "ClientRequestToken": "y"},
        {"Step": "createSecret", "SecretId": "x"},
    ],
)
def test_malformed_rotation_events_are_refused(event: Any) -> None:
    with pytest.raises(RotationError):
        parse_event(event)


def test_a_secret_outside_the_prefix_is_refused(sm: Any) -> None:
    sm.create_secret(Name="someone-else/secret", SecretString="{}")
    arn = sm.describe_secret(SecretId="someone-else/secret")["ARN"]
    with pytest.raises(RotationError, match="not a tokengate client"):
        run_step("createSecret", arn, str(uuid.uuid4()))

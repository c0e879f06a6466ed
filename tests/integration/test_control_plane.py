"""Control-plane calls (RotateSecret, CancelRotateSecret, DeleteSecret) against a slow Secrets Manager.

Such a call that times out may still take effect, so it is made once, never retried, and its
failure tells the caller so; what the admin API undoes on the way out is undone exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import call_admin, issue
from tokengate.emulator import Fault, FaultKind, SecretsManagerEmulator
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.records.store import CONTROL_PLANE_OPERATIONS, api_name
from tokengate_core.runtime.aws import CONTROL_PLANE_MAX_ATTEMPTS, control_plane_client, make_store

BASE = "/admin/tenants/acme/clients"
ROTATION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rotation"
#: Far beyond any timeout here: a hang ends when the test releases it, never by the clock.
FOREVER = 300.0


@pytest.fixture
def admin(emulator: SecretsManagerEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdminSettings]:
    """The admin function as deployed (a rotation function to schedule), with a control-plane
    timeout short enough for a test; every other setting is the function's own."""
    from admin import app

    settings = app.settings.model_copy(
        update={"rotation_function_arn": ROTATION_ARN, "sm_control_read_timeout_seconds": 0.3}
    )
    monkeypatch.setattr(app.admin_context, "settings", settings)
    monkeypatch.setattr(app.admin_context, "store", make_store(settings))
    assert call_admin("GET", "/admin/keys").status == 200  # the deployment's keyring exists already
    yield settings
    emulator.inject(None)
    emulator.wait_idle()


def error_of(response: Any) -> str:
    assert response.status == 503, response.body
    assert response.body["code"] == "backend_unavailable"
    return str(response.body["message"])


def test_a_slow_rotate_secret_is_sent_once_and_the_half_made_client_is_removed_with_a_clear_error(
    emulator: SecretsManagerEmulator, admin: AdminSettings
) -> None:
    emulator.inject(Fault("hang", frozenset({"RotateSecret"}), hang_seconds=FOREVER))
    message = error_of(
        call_admin("POST", BASE, {"client_name": "ci-bot", "rotation_period_days": 30, "token_fetch": True})
    )
    assert "RotateSecret" in message and "not retried" in message and "may still take effect" in message
    assert emulator.calls("RotateSecret") == 1  # a second one would find the first one's test in progress
    assert emulator.calls("DeleteSecret") == 1  # the undo of the half-made client, once
    # The late RotateSecret lands now and finds no secret: nothing is left of the client.
    emulator.inject(None)
    emulator.wait_idle()
    assert call_admin("GET", BASE).body["items"] == []
    issue("acme", "ci-bot")  # and its name is free


def test_a_slow_delete_secret_on_revoke_is_sent_once_and_may_still_take_effect(
    emulator: SecretsManagerEmulator, admin: AdminSettings
) -> None:
    client_id, _ = issue("acme", "ci-bot")
    emulator.inject(Fault("hang", frozenset({"DeleteSecret"}), hang_seconds=FOREVER))
    message = error_of(call_admin("DELETE", f"{BASE}/{client_id}"))
    assert "DeleteSecret" in message and "check the client" in message
    assert emulator.calls("DeleteSecret") == 1
    # What the message warned about: the call completes after the client gave up on it.
    emulator.inject(None)
    emulator.wait_idle()
    assert call_admin("GET", f"{BASE}/{client_id}").body["status"] == "revoked"
    assert call_admin("DELETE", f"{BASE}/{client_id}").status == 200  # and a retry is harmless


@pytest.mark.parametrize("kind", ["throttle", "error"])
def test_control_plane_calls_get_one_attempt_while_reads_and_writes_keep_their_retry(
    emulator: SecretsManagerEmulator, admin: AdminSettings, kind: FaultKind
) -> None:
    emulator.reset_counts()
    emulator.inject(Fault(kind, frozenset({"RotateSecret", "CreateSecret"})))
    error_of(call_admin("POST", BASE, {"client_name": "ci-bot", "rotation_period_days": 30, "token_fetch": True}))
    assert emulator.calls("CreateSecret") == admin.sm_max_attempts == 2
    emulator.inject(Fault(kind, frozenset({"RotateSecret"})))
    error_of(call_admin("POST", BASE, {"client_name": "ci-bot", "rotation_period_days": 30, "token_fetch": True}))
    assert emulator.calls("RotateSecret") == CONTROL_PLANE_MAX_ATTEMPTS == 1


def test_the_control_plane_client_has_its_own_timeout_and_no_retry() -> None:
    settings = AdminSettings(sm_control_read_timeout_seconds=12.5)
    config: Any = control_plane_client(settings).meta.config
    assert config.read_timeout == 12.5 != settings.sm_read_timeout_seconds
    assert config.connect_timeout == settings.sm_connect_timeout_seconds
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert {api_name(op) for op in CONTROL_PLANE_OPERATIONS} == {"RotateSecret", "CancelRotateSecret", "DeleteSecret"}


def test_a_control_plane_call_and_its_undo_both_fit_in_the_admin_functions_timeout() -> None:
    """Issue's RotateSecret times out, then its undo (DeleteSecret) takes as long again: the
    function must still be alive to answer, or API Gateway answers a bare 503 and nothing is logged."""
    settings = AdminSettings()
    one_call = settings.sm_connect_timeout_seconds + settings.sm_control_read_timeout_seconds
    assert 2 * one_call < FUNCTIONS["admin"].timeout_seconds

"""Record model, scope patterns and configuration: the validation at each boundary."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from tests.support import SIGN
from tokengate_core.authorize.decision import Reason
from tokengate_core.deployment.config import (
    LAMBDA_RUNTIME_ENV,
    AdminSettings,
    AuthorizerSettings,
    ConfigError,
    MainSettings,
    RotationSettings,
)
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.errors import BACKEND_UNAVAILABLE, CORRUPT_RECORD, CorruptRecordError, UnavailableError
from tokengate_core.records.model import ClientRecord
from tokengate_core.records.rules import scope_regex
from tokengate_core.runtime.observability import NAMESPACE
from tokengate_core.tokens import format as tokens

REPO = Path(__file__).resolve().parents[2]

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def record(**changes: object) -> ClientRecord:
    key = tokens.new_key_id()
    data: dict[str, object] = {
        "key_id": key,
        "token": tokens.generate(key, SIGN),
        "tenant": "acme",
        "client_name": "bot",
        "scopes": ["*"],
        "created_at": NOW,
        "created_by": "alice",
        "updated_at": NOW,
        "updated_by": "alice",
    }
    data.update(changes)
    return ClientRecord.model_validate(data)


@pytest.mark.parametrize(
    ("scope", "request_key", "matches"),
    [
        ("*", "DELETE /anything/at/all", True),
        ("GET /invoke", "GET /invoke", True),
        ("GET /invoke", "POST /invoke", False),
        ("GET /invoke", "GET /invoke/x", False),
        ("ANY /invoke", "PATCH /invoke", True),
        ("* /invoke", "PUT /invoke", True),
        ("GET /reports/*", "GET /reports/2026", True),
        ("GET /reports/*", "GET /reports/2026/01", False),
        ("GET /reports/**", "GET /reports/2026/01", True),
        ("GET /a.b", "GET /aXb", False),
    ],
)
def test_scope_patterns(scope: str, request_key: str, matches: bool) -> None:
    assert bool(scope_regex(scope).match(request_key)) is matches


def test_record_round_trips_through_the_secret_string_only() -> None:
    rec = record()
    text = rec.to_secret_string()
    assert rec.own_token in text
    assert ClientRecord.from_secret_string(text) == rec
    # Everywhere else the token is masked.
    assert rec.own_token not in repr(rec)
    assert rec.own_token not in rec.model_dump_json()


@pytest.mark.parametrize(
    "changes",
    [
        {"tenant": "Acme"},
        {"client_name": "has space"},
        {"scopes": []},
        {"scopes": ["GET invoke"]},
        {"token": SecretStr("tg_short")},
        {"key_id": "UPPER"},
        {"created_at": datetime(2026, 1, 1)},  # naive timestamps are refused
        {"unknown": 1},
    ],
)
def test_invalid_records_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        record(**changes)


def test_rotation_keeps_the_old_digest_for_the_grace_period() -> None:
    rec = record()
    new_token = tokens.generate(rec.key_id, SIGN)
    rotated = rec.rotated(new_token, NOW, "bob")
    assert rotated.own_token == new_token
    assert rotated.previous is not None
    assert rotated.previous.sha256 == tokens.digest(rec.own_token).hex()
    assert rotated.previous.valid_until == NOW + timedelta(seconds=rec.rotation.grace_seconds)
    assert rotated.rotated_at == NOW
    assert rotated.updated_by == "bob"


def test_rotation_without_grace_keeps_no_previous() -> None:
    rec = record(rotation={"grace_seconds": 0})
    assert rec.rotated(tokens.generate(rec.key_id, SIGN), NOW, "bob").previous is None


def test_status() -> None:
    assert record().status_at(NOW) == "active"
    assert record(enabled=False).status_at(NOW) == "disabled"
    assert record(expires_at=NOW).status_at(NOW) == "expired"
    assert record(expires_at=NOW + timedelta(seconds=1)).status_at(NOW) == "active"


def test_with_changes_validates() -> None:
    with pytest.raises(ValidationError):
        record().with_changes({"scopes": ["nope"]}, NOW, "bob")


def test_bad_configuration_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="TOKENGATE_CACHE_TTL_SECONDS"):
        AuthorizerSettings.from_env({"TOKENGATE_CACHE_TTL_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="TOKENGATE_SECRET_PREFIX"):
        AuthorizerSettings.from_env({"TOKENGATE_SECRET_PREFIX": "no-trailing-slash"})
    with pytest.raises(ConfigError, match="TOKENGATE_RECOVERY_WINDOW_DAYS"):
        AdminSettings.from_env({"TOKENGATE_RECOVERY_WINDOW_DAYS": "3"})
    with pytest.raises(ConfigError, match="POWERTOOLS_LOG_LEVEL"):
        MainSettings.from_env({"POWERTOOLS_LOG_LEVEL": "LOUD"})
    for namespace in ("AWS/Lambda", ":x", "has space", "x" * 256, ""):
        with pytest.raises(ConfigError, match="TOKENGATE_METRICS_NAMESPACE"):
            AuthorizerSettings.from_env({"TOKENGATE_METRICS_NAMESPACE": namespace})
    with pytest.raises(ConfigError, match="TOKENGATE_METRIC_TENANT_DIMENSION"):
        AuthorizerSettings.from_env({"TOKENGATE_METRIC_TENANT_DIMENSION": "maybe"})


def test_metrics_are_by_reason_only_unless_per_tenant_is_asked_for() -> None:
    assert AuthorizerSettings().metric_tenant_dimension is False
    assert AuthorizerSettings.from_env({"TOKENGATE_METRIC_TENANT_DIMENSION": "true"}).metric_tenant_dimension
    settings = AuthorizerSettings.from_env({"TOKENGATE_METRICS_NAMESPACE": "tokengate/Prod-eu"})
    assert settings.metrics_namespace == "tokengate/Prod-eu"
    assert AuthorizerSettings().metrics_namespace == NAMESPACE


def test_the_reasons_the_alarms_watch_are_the_error_codes() -> None:
    """One string each: the denial reason, the error code and the alarm's dimension value."""
    assert Reason.BACKEND_UNAVAILABLE.value == BACKEND_UNAVAILABLE == UnavailableError.code
    assert CORRUPT_RECORD == CorruptRecordError.code == "corrupt_record"


@pytest.mark.parametrize("handler", sorted(spec.handler for spec in FUNCTIONS.values()))
def test_a_lambda_cold_start_with_bad_configuration_exits_with_one_line_naming_it(handler: str) -> None:
    """Under the Lambda runtime, the handler module's import ends the init: status 1, one line."""
    module = handler.rpartition(".")[0]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "services"), str(REPO)]),
        LAMBDA_RUNTIME_ENV: "127.0.0.1:9001",  # only its presence matters: nothing connects to it
        "POWERTOOLS_LOG_LEVEL": "VERY-LOUD",
    }
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 1
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("tokengate: invalid configuration: POWERTOOLS_LOG_LEVEL: ")
    assert "VERY-LOUD" not in line


def test_outside_lambda_bad_configuration_is_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LAMBDA_RUNTIME_ENV, raising=False)
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="POWERTOOLS_LOG_LEVEL"):
        MainSettings.from_env()
    monkeypatch.setenv(LAMBDA_RUNTIME_ENV, "127.0.0.1:9001")
    with pytest.raises(ConfigError, match="POWERTOOLS_LOG_LEVEL"):
        MainSettings.from_env({"POWERTOOLS_LOG_LEVEL": "LOUD"})  # an explicit mapping is not a cold start


def test_configuration_round_trips_through_the_environment() -> None:
    for spec in FUNCTIONS.values():
        settings = spec.settings()
        env = settings.to_env()
        assert set(env) <= set(spec.settings.env_names())
        assert spec.settings.from_env(env) == settings
    custom = AuthorizerSettings.from_env({"TOKENGATE_CACHE_TTL_SECONDS": "5", "TOKENGATE_SECRET_PREFIX": "x/y/"})
    assert custom.cache_ttl_seconds == 5
    assert custom.secret_prefix == "x/y/"
    assert RotationSettings().sm_read_timeout_seconds > AuthorizerSettings().sm_read_timeout_seconds

"""The functions' configuration: a bad value names its variable (one line at a Lambda cold start),
every setting round-trips through the environment, and the traced functions' Tracer never records a
response (an issued token) or an error's message."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from aws_lambda_powertools import Tracer

from tokengate_core.deployment.config import (
    LAMBDA_RUNTIME_ENV,
    AdminSettings,
    AuthorizerSettings,
    ConfigError,
    MainSettings,
    RotationSettings,
    TracerSettings,
)
from tokengate_core.deployment.functions import FUNCTIONS

REPO = Path(__file__).resolve().parents[3]


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


TOKEN = "tg_0123456789abcdef_secret"


Factory = Callable[[], tuple[Tracer, MagicMock]]


@pytest.fixture
def tracer_factory() -> Iterator[Factory]:
    """A live Tracer (tests otherwise run with tracing disabled) recording into a mock provider;
    Tracer's configuration is shared by every instance, so it is reset afterwards."""

    def make() -> tuple[Tracer, MagicMock]:
        provider = MagicMock()
        return Tracer(service="tokengate-test", disabled=False, auto_patch=False, provider=provider), provider

    yield make
    Tracer._reset_config()  # type: ignore[no-untyped-call]


def run(tracer: Tracer) -> None:
    @tracer.capture_lambda_handler
    def issue(event: Any, context: Any) -> dict[str, str]:
        return {"token": TOKEN}

    @tracer.capture_lambda_handler
    def fail(event: Any, context: Any) -> None:
        raise ValueError(f"rejected {TOKEN}")

    issue({}, None)
    with pytest.raises(ValueError):
        fail({}, None)


def recorded(provider: MagicMock) -> str:
    return str(provider.in_subsegment.return_value.__enter__.return_value.mock_calls)


@pytest.mark.parametrize("settings", [AdminSettings, RotationSettings])
def test_with_the_traced_functions_environment_nothing_secret_reaches_the_trace(
    settings: type[TracerSettings], tracer_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in settings().to_env().items():
        if name.startswith("POWERTOOLS_TRACER_"):
            monkeypatch.setenv(name, value)
    tracer, provider = tracer_factory()
    run(tracer)
    assert "ColdStart" in recorded(provider)  # it did trace
    assert TOKEN not in recorded(provider)


def test_without_it_tracer_would_record_both(tracer_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR"):
        monkeypatch.delenv(name, raising=False)
    tracer, provider = tracer_factory()
    run(tracer)
    assert recorded(provider).count(TOKEN) == 2


def test_turning_a_capture_on_fails_the_cold_start() -> None:
    for variable in ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "POWERTOOLS_TRACER_CAPTURE_ERROR"):
        with pytest.raises(ConfigError, match=variable):
            AdminSettings.from_env({variable: "true"})


def test_the_traced_functions_are_the_ones_whose_settings_carry_the_switches() -> None:
    assert {name for name, spec in FUNCTIONS.items() if spec.traced} == {"admin", "rotation"}

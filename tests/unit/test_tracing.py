"""The traced functions' Tracer never records a response (an issued token) or an error's message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import MagicMock

import pytest
from aws_lambda_powertools import Tracer

from tokengate_core.deployment.config import AdminSettings, ConfigError, RotationSettings, TracerSettings
from tokengate_core.deployment.functions import FUNCTIONS

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

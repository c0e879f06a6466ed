"""The authorizer's settings: its metrics are by reason only unless a per-tenant dimension is asked
for, in the namespace the stack names, and a setting whose zero would disable a protection has a
floor."""

from __future__ import annotations

import pytest

from tokengate_core.deployment.config import AuthorizerSettings, ConfigError
from tokengate_core.runtime.observability import NAMESPACE


def test_metrics_are_by_reason_only_unless_per_tenant_is_asked_for() -> None:
    assert AuthorizerSettings().metric_tenant_dimension is False
    assert AuthorizerSettings.from_env({"TOKENGATE_METRIC_TENANT_DIMENSION": "true"}).metric_tenant_dimension
    settings = AuthorizerSettings.from_env({"TOKENGATE_METRICS_NAMESPACE": "tokengate/Prod-eu"})
    assert settings.metrics_namespace == "tokengate/Prod-eu"
    assert AuthorizerSettings().metrics_namespace == NAMESPACE


@pytest.mark.parametrize(
    ("name", "value"),
    [("TOKENGATE_NEGATIVE_CACHE_TTL_SECONDS", "0"), ("TOKENGATE_CACHE_MAX_ENTRIES", "10")],
)
def test_protective_settings_have_floors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        AuthorizerSettings.from_env({name: value})

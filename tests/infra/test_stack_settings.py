"""The stack's settings from CDK context: strings are parsed, and a bad value names its key."""

from __future__ import annotations

import pytest

from infra.settings import SettingsError, StackSettings
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_context_strings_are_parsed_and_bad_values_name_their_key() -> None:
    settings = StackSettings.from_mapping(
        {
            "usageControl": "false",
            "apiCacheTtlSeconds": "10",
            "authorizerCacheTtlSeconds": "20",
            "reservedConcurrency": '{"admin": 2}',
        }
    )
    assert settings.usage_control is False and settings.api_cache_ttl_seconds == 10
    assert settings.reserved_concurrency == {"admin": 2}
    assert settings.revocation_bound_seconds == 10 + FEED_FALLBACK_SECONDS + 30
    defaults = StackSettings()
    assert defaults.stack_name == "TokenGate" and defaults.stage == "dev"
    # Usage control on, API Gateway's cache off: the feed's fallback and the short TTL bound a
    # revocation (the long TTL lasts only while the feed evicts what changed).
    assert defaults.usage_control is True and defaults.api_cache_ttl_seconds == 0
    assert defaults.authorizer_cache_ttl_seconds == 3600
    assert defaults.revocation_bound_seconds == FEED_FALLBACK_SECONDS + 30
    for bad, key in (
        ({"logRetentionDays": "31"}, "logRetentionDays"),
        ({"secretPrefix": "no-trailing-slash"}, "secretPrefix"),
        ({"reservedConcurrency": '{"nosuch": 1}'}, "reservedConcurrency"),
        ({"stage": "a/b"}, "stage"),
        ({"kmsKeyArn": "alias/mine"}, "kmsKeyArn"),
        ({"tokenPrefix": "TG_"}, "tokenPrefix"),
        ({"tokenPrefix": "tg"}, "tokenPrefix"),
        ({"tokenPrefix": "waytoolong_"}, "tokenPrefix"),
    ):
        with pytest.raises(SettingsError, match=key):
            StackSettings.from_mapping(bad)


def test_a_context_key_that_is_no_longer_read_is_refused_not_ignored() -> None:
    """powertoolsLayerVersion chose the layer; the locked Powertools release does now."""
    from infra.app import build_app
    from infra.testing import cdk_json_context

    with pytest.raises(SettingsError, match="powertoolsLayerVersion: no longer a setting"):
        build_app({**cdk_json_context(), "powertoolsLayerVersion": 27})

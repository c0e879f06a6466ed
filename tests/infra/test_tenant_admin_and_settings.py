"""The per-tenant admin grant (CDK helper and printed policy) and the context knobs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from infra.admin import tenant_admin_statement
from infra.settings import SettingsError, StackSettings
from infra.tenant_policy import ApiLocation, main, tenant_admin_policy
from tokengate_core.routes import tenant_admin_resource

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

API_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/dev"


def test_printed_policy_allows_invoke_on_one_tenants_admin_routes_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tenant", "acme", "--api-url", API_URL, "--account", "123456789012"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TokengateTenantAdmin",
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/dev/*/admin/tenants/acme/*",
            }
        ],
    }


def test_printed_policy_reuses_the_core_resource_pattern() -> None:
    location = ApiLocation.from_url(API_URL + "/")
    policy = tenant_admin_policy(location, "123456789012", "acme", any_stage=True)
    assert policy["Statement"][0]["Resource"] == tenant_admin_resource(
        "arn:aws:execute-api:eu-west-1:123456789012:abc123defg", "acme", "*"
    )
    china = ApiLocation.from_url("https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod")
    assert china.arn_prefix("123456789012").startswith("arn:aws-cn:execute-api:cn-north-1:")


@pytest.mark.parametrize("tenant", ["*", "acme/*", "Acme", "a?c", ""])
def test_a_tenant_id_cannot_widen_the_grant(tenant: str) -> None:
    with pytest.raises(ValueError, match="not a tenant id"):
        tenant_admin_policy(ApiLocation.from_url(API_URL), "123456789012", tenant)
    with pytest.raises(ValueError, match="not a tenant id"):
        tenant_admin_statement(Stack(App(), "S"), "api", tenant)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="execute-api"):
        ApiLocation.from_url("https://example.com/dev")
    with pytest.raises(ValueError, match="account"):
        tenant_admin_policy(ApiLocation.from_url(API_URL), "12345", "acme")


def test_cdk_statement_scopes_invoke_to_the_tenant_in_this_stacks_account_and_region() -> None:
    stack = Stack(App(), "S")
    statement = tenant_admin_statement(stack, "abc123defg", "acme")
    resolved: dict[str, Any] = stack.resolve(statement.to_statement_json())
    assert resolved["Action"] == "execute-api:Invoke"
    assert resolved["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":execute-api:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":abc123defg/*/*/admin/tenants/acme/*",
            ],
        ]
    }
    assert isinstance(statement, iam.PolicyStatement)


def test_context_strings_are_parsed_and_bad_values_name_their_key() -> None:
    settings = StackSettings.from_mapping(
        {"apiCacheTtlSeconds": "10", "authorizerCacheTtlSeconds": "20", "reservedConcurrency": '{"admin": 2}'}
    )
    assert settings.api_cache_ttl_seconds == 10
    assert settings.reserved_concurrency == {"admin": 2}
    assert settings.revocation_bound_seconds == 30
    defaults = StackSettings()
    assert defaults.stack_name == "TokenGate" and defaults.stage == "dev"
    assert defaults.revocation_bound_seconds == 5 + 30
    for bad, key in (
        ({"logRetentionDays": "31"}, "logRetentionDays"),
        ({"secretPrefix": "no-trailing-slash"}, "secretPrefix"),
        ({"reservedConcurrency": '{"nosuch": 1}'}, "reservedConcurrency"),
        ({"stage": "a/b"}, "stage"),
        ({"kmsKeyArn": "alias/mine"}, "kmsKeyArn"),
    ):
        with pytest.raises(SettingsError, match=key):
            StackSettings.from_mapping(bad)

"""The per-tenant admin grant, from the CDK helper and as `tokengate tenant-policy` prints it: one
tenant's routes in one stage, and nothing a tenant id or a stage could widen."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from infra.admin import tenant_admin_statement
from infra.app import build_app
from infra.tenant_policy import ApiLocation, tenant_admin_policy
from infra.testing import cdk_json_context
from tests.tenant_policy_cases import OLD_PATTERN, STAGE, TENANT, legitimate, refused
from tokengate.cli import main as cli
from tokengate.local.principals import iam_match
from tokengate_core.deployment.routes import tenant_admin_resources

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

API_URL = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/dev"
API = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg"
CONCRETE = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}


def test_printed_policy_names_each_route_and_method_of_one_tenant_in_one_stage(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["tenant-policy", "--tenant", "acme", "--endpoint", API_URL, "--account", "123456789012"]) == 0
    policy = json.loads(capsys.readouterr().out)
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TokengateTenantAdmin",
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": [
                    f"{API}/dev/POST/admin/tenants/acme/clients",
                    f"{API}/dev/GET/admin/tenants/acme/clients",
                    f"{API}/dev/GET/admin/tenants/acme/clients/*",
                    f"{API}/dev/PATCH/admin/tenants/acme/clients/*",
                    f"{API}/dev/DELETE/admin/tenants/acme/clients/*",
                    f"{API}/dev/POST/admin/tenants/acme/clients/*/restore",
                    f"{API}/dev/POST/admin/tenants/acme/clients/*/rotate",
                    f"{API}/dev/GET/admin/tenants/acme/clients/*/usage",
                    f"{API}/dev/GET/admin/tenants/acme/guardrails",
                    f"{API}/dev/PUT/admin/tenants/acme/guardrails",
                ],
            }
        ],
    }


def test_no_wildcard_comes_before_the_tenant() -> None:
    for resource in tenant_admin_resources(API, "acme", "dev"):
        fixed = resource.split("*", 1)[0]
        assert fixed.startswith(f"{API}/dev/") and "/admin/tenants/acme/" in fixed, resource


def policy_sources() -> dict[str, list[str]]:
    """The same grant from each place that builds one, with the template's tokens made concrete."""
    stack = Stack(App(), "S")
    statement: dict[str, Any] = stack.resolve(
        tenant_admin_statement(stack, "abc123defg", "acme", "dev").to_statement_json()
    )
    printed = tenant_admin_policy(ApiLocation.from_url(API_URL), "123456789012", "acme")
    return {
        "core": tenant_admin_resources(API, TENANT, STAGE),
        "printed": printed["Statement"][0]["Resource"],
        "cdk": [concrete(r) for r in statement["Resource"]],
    }


def concrete(value: Any, refs: dict[str, str] = CONCRETE) -> str:
    """A resolved ``Fn::Join`` of literals and ``Ref``s, as CloudFormation would join it."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    separator, parts = value["Fn::Join"]
    return str(separator).join(concrete(part, refs) for part in parts)


@pytest.mark.parametrize("source", ["core", "printed", "cdk"])
def test_the_grant_evaluated_with_iam_wildcards_admits_the_tenants_routes_only(source: str) -> None:
    resources = policy_sources()[source]
    for arn in legitimate(API):
        assert any(iam_match(pattern, arn) for pattern in resources), arn
    for arn in refused(API):
        assert not any(iam_match(pattern, arn) for pattern in resources), arn


def test_the_old_pattern_was_stretchable() -> None:
    """The matcher treats ``*`` as IAM does (slashes too), so the refusals above mean something."""
    old = OLD_PATTERN.format(api=API)
    assert iam_match(old, f"{API}/dev/GET/admin/tenants/globex/clients/x/admin/tenants/acme/x")


def test_grant_tenant_admin_pins_the_stacks_stage() -> None:
    _, stack = build_app({**cdk_json_context(), "stage": "prod"}, builtin_validation=False)
    grant = stack.grant_tenant_admin(iam.User(stack, "AcmeAdmin"), "acme")
    (statement,) = grant.principal_statements
    resolved: dict[str, Any] = stack.resolve(statement.to_statement_json())
    assert resolved["Action"] == "execute-api:Invoke"
    api_ref = stack.resolve(stack.api.http_api.api_id)["Ref"]
    resources = [concrete(r, {**CONCRETE, api_ref: "abc123defg"}) for r in resolved["Resource"]]
    assert len(resources) == len(legitimate(API, "prod"))
    for arn in legitimate(API, "prod"):
        assert any(iam_match(pattern, arn) for pattern in resources), arn
    for arn in refused(API, "prod") + legitimate(API, "dev"):
        assert not any(iam_match(pattern, arn) for pattern in resources), arn


@pytest.mark.parametrize("tenant", ["*", "acme/*", "Acme", "a?c", ""])
def test_a_tenant_id_cannot_widen_the_grant(tenant: str) -> None:
    with pytest.raises(ValueError, match="not a tenant id"):
        tenant_admin_policy(ApiLocation.from_url(API_URL), "123456789012", tenant)
    with pytest.raises(ValueError, match="not a tenant id"):
        tenant_admin_statement(Stack(App(), "S"), "api", tenant, "dev")


@pytest.mark.parametrize("stage", ["*", "d*", "dev/GET", "de?", ""])
def test_a_stage_cannot_widen_the_grant(stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="not a stage name"):
        tenant_admin_resources(API, "acme", stage)
    assert (
        cli(["tenant-policy", "-t", "acme", "--endpoint", API_URL, "--account", "123456789012", "--stage", stage]) == 2
    )
    assert capsys.readouterr().err.startswith("error: usage: not a stage name")


def test_stages_are_named_never_wildcarded(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["tenant-policy", "--tenant", "acme", "--endpoint", API_URL, "--account", "123456789012"]
    assert cli([*args, "--stage", "dev", "--stage", "prod"]) == 0
    resources = json.loads(capsys.readouterr().out)["Statement"][0]["Resource"]
    assert resources == tenant_admin_resources(API, "acme", "dev") + tenant_admin_resources(API, "acme", "prod")
    assert cli([*args, "--stage", "*"]) == 2


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="execute-api"):
        ApiLocation.from_url("https://example.com/dev")
    with pytest.raises(ValueError, match="account"):
        tenant_admin_policy(ApiLocation.from_url(API_URL), "12345", "acme")
    china = ApiLocation.from_url("https://abc.execute-api.cn-north-1.amazonaws.com.cn/prod")
    assert china.arn_prefix("123456789012").startswith("arn:aws-cn:execute-api:cn-north-1:")

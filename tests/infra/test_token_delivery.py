"""The template's token delivery: its route is behind the Lambda authorizer, and its role may only
read secrets and write its logs."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.secrets import READ_ACTIONS
from tests.infra.test_template import actions_of, as_list, function_ids, resources, statements_by_function
from tokengate_core.deployment.routes import DELIVERY_ROUTE

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def integration_of(template: dict[str, Any], route_key: str) -> dict[str, Any]:
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    (route,) = [
        r for r in resources(template, "AWS::ApiGatewayV2::Route").values() if r["Properties"]["RouteKey"] == route_key
    ]
    target = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
    properties: dict[str, Any] = integrations[target]["Properties"]
    return properties


def test_the_delivery_route_is_behind_the_lambda_authorizer(template: Template, template_json: dict[str, Any]) -> None:
    (authorizer_id,) = resources(template_json, "AWS::ApiGatewayV2::Authorizer")
    assert DELIVERY_ROUTE.authorization == "CUSTOM"
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {"RouteKey": DELIVERY_ROUTE.route_key, "AuthorizationType": "CUSTOM", "AuthorizerId": {"Ref": authorizer_id}},
    )
    integration = integration_of(template_json, DELIVERY_ROUTE.route_key)
    assert integration["IntegrationUri"]["Fn::GetAtt"][0] == function_ids(template_json)["delivery"]


def test_the_delivery_role_may_only_read_secrets_and_write_its_logs(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl in (template_json, variant_json):
        statements = statements_by_function(tpl)["delivery"]
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert actions <= {*READ_ACTIONS, "kms:Decrypt", "logs:CreateLogStream", "logs:PutLogEvents"}, actions
        assert actions_of(statements, "secretsmanager:") == set(READ_ACTIONS)

"""The local stack runs what the CDK stack deploys: same handlers, same environment variable names
(and default values), same sizing, same routes and authorization, same authorizer identity sources,
the same response headers from the authorizer's context, and the outputs the CLI reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.settings import StackSettings
from infra.testing import functions_by_handler, synth_template
from tokengate import SERVICES_DIR
from tokengate.local.gateway import CACHED_IDENTITY_SOURCES, HttpResponse, map_authorizer_headers
from tokengate.local.runtime import FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS, function_environment, handler_file
from tokengate_core.deployment.config import (
    AdminSettings,
    AuthorizerSettings,
    LeakSettings,
    RotationSettings,
    StoreSettings,
    SweepSettings,
)
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.deployment.routes import IDENTITY_SOURCE, ROUTES, STAGE_DEFAULT
from tokengate_core.records.view import TOKEN_STATUS_KEY

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

#: Set only where the resource exists: the rotation function (locally the scheduler plays Secrets
#: Manager and the schedule stays in the record) and a customer-managed KMS key (none locally).
DEPLOYED_ONLY: dict[FunctionName, set[str]] = {
    "admin": {AdminSettings.env_name("rotation_function_arn"), AdminSettings.env_name("kms_key_id")},
}
#: Set in both, to a resource's name in AWS (a CloudFormation reference) and to the default locally.
NAMED_BY_THE_STACK: dict[FunctionName, set[str]] = {
    "admin": {AdminSettings.env_name("table_name")},
    "authorizer": {AuthorizerSettings.env_name("table_name")},
    "leaks": {LeakSettings.env_name("table_name")},
    "rotation": {RotationSettings.env_name("table_name")},
    "sweep": {SweepSettings.env_name("table_name")},
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return synth_template()


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_template_has_exactly_the_functions_the_local_stack_runs(template: dict[str, Any]) -> None:
    assert set(functions_by_handler(template)) == {spec.handler for spec in FUNCTIONS.values()}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_each_function_has_the_same_handler_environment_and_sizing(
    template: dict[str, Any], name: FunctionName
) -> None:
    spec = FUNCTIONS[name]
    deployed = functions_by_handler(template)[spec.handler]
    variables: dict[str, Any] = dict((deployed.get("Environment") or {}).get("Variables", {}))
    local = dict(function_environment(name, {}))
    assert set(variables) - DEPLOYED_ONLY.get(name, set()) == set(local)
    # The values that differ on purpose: a stack's secret prefix and metrics namespace are its own
    # (derived from its name), the local stack keeps the function defaults.
    stack = StackSettings()
    for variable, deployed_value in (
        (StoreSettings.env_name("secret_prefix"), stack.secret_prefix),
        (AuthorizerSettings.env_name("metrics_namespace"), stack.metrics_namespace),
    ):
        if variable in local:
            assert variables.pop(variable) == deployed_value != local.pop(variable)
    named = NAMED_BY_THE_STACK.get(name, set())
    assert all(isinstance(variables[k], dict) for k in named), "a reference to the stack's resource"
    literal = {k: v for k, v in local.items() if k not in named}
    assert {k: variables[k] for k in literal} == literal, "same defaults locally and deployed"
    assert deployed["Timeout"] == FUNCTION_TIMEOUT_SECONDS[name]
    assert deployed["MemorySize"] == FUNCTION_MEMORY_MB[name]
    # The local runtime loads the very file the asset ships: <services>/<module path>.py
    module = spec.handler.rpartition(".")[0]
    assert Path(handler_file(module)) == SERVICES_DIR / (module.replace(".", "/") + ".py")


def test_routes_stage_and_payload_format_match(template: dict[str, Any]) -> None:
    deployed = {r["RouteKey"]: r["AuthorizationType"] for r in resources(template, "AWS::ApiGatewayV2::Route")}
    assert deployed == {route.route_key: route.authorization for route in ROUTES}
    assert {i["PayloadFormatVersion"] for i in resources(template, "AWS::ApiGatewayV2::Integration")} == {"2.0"}
    assert [s["StageName"] for s in resources(template, "AWS::ApiGatewayV2::Stage")] == [STAGE_DEFAULT]


@pytest.mark.parametrize(
    "context", [{}, {"usageControl": False, "apiCacheTtlSeconds": 5}], ids=["usage-control", "api-cache"]
)
def test_the_authorizer_is_applied_alike(context: dict[str, Any]) -> None:
    settings = StackSettings.from_mapping(context)
    (authorizer,) = resources(synth_template(context), "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    cached = authorizer["AuthorizerResultTtlInSeconds"] > 0
    local = list(CACHED_IDENTITY_SOURCES) if cached else [IDENTITY_SOURCE]
    assert authorizer["IdentitySource"] == local
    assert cached is (not settings.usage_control)


def test_the_gateway_maps_exactly_the_headers_and_status_codes_the_template_maps(template: dict[str, Any]) -> None:
    integrations = {
        logical_id: r["Properties"]
        for logical_id, r in template["Resources"].items()
        if r["Type"] == "AWS::ApiGatewayV2::Integration"
    }
    custom = [r for r in resources(template, "AWS::ApiGatewayV2::Route") if r["AuthorizationType"] == "CUSTOM"]
    assert custom
    for route in custom:
        mapped = integrations[route["Target"]["Fn::Join"][1][1]["Ref"]]["ResponseParameters"]
        for status in range(200, 600):
            expected = []
            for mapping in mapped.get(str(status), {}).get("ResponseParameters", []):
                assert mapping["Destination"].startswith("overwrite:header.")
                assert mapping["Source"].startswith("$context.authorizer.")
                header = mapping["Destination"].removeprefix("overwrite:header.").lower()
                expected.append((header, f"value of {mapping['Source'].removeprefix('$context.authorizer.')}"))
            context = {key: f"value of {key}" for key in (TOKEN_STATUS_KEY, "tenant", "client_id")}
            response = HttpResponse(status, [], b"")
            map_authorizer_headers(response, context)
            assert response.headers == expected, (route["RouteKey"], status)


def test_the_outputs_the_cli_reads_exist(template: dict[str, Any]) -> None:
    assert {"ApiUrl", "AdminBaseUrl"} <= set(template["Outputs"])

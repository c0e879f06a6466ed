"""The local stack runs what the CDK stack deploys: same handlers, same environment variable names
(and default values), same sizing, same routes and authorization, same authorizer identity sources,
and the outputs the CLI reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.settings import StackSettings
from infra.testing import functions_by_handler, synth_template
from tokengate import SERVICES_DIR
from tokengate.local.gateway import CACHED_IDENTITY_SOURCES
from tokengate.local.runtime import FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS, function_environment, handler_file
from tokengate_core.config import AdminSettings, AuthorizerSettings, StoreSettings
from tokengate_core.routes import FUNCTIONS, IDENTITY_SOURCE, ROUTES, STAGE_DEFAULT, FunctionName

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

#: Set only where the resource exists: the rotation function (locally the scheduler plays Secrets
#: Manager and the schedule stays in the record) and a customer-managed KMS key (none locally).
DEPLOYED_ONLY: dict[FunctionName, set[str]] = {
    "admin": {AdminSettings.env_name("rotation_function_arn"), AdminSettings.env_name("kms_key_id")},
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
    assert {k: variables[k] for k in local} == local, "same defaults locally and deployed"
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


@pytest.mark.parametrize("api_cache_ttl", [None, 0])
def test_the_authorizer_is_applied_alike(api_cache_ttl: int | None) -> None:
    context = {} if api_cache_ttl is None else {"apiCacheTtlSeconds": api_cache_ttl}
    (authorizer,) = resources(synth_template(context), "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    cached = authorizer["AuthorizerResultTtlInSeconds"] > 0
    local = list(CACHED_IDENTITY_SOURCES) if cached else [IDENTITY_SOURCE]
    assert authorizer["IdentitySource"] == local
    assert cached is (api_cache_ttl is None)


def test_the_outputs_the_cli_reads_exist(template: dict[str, Any]) -> None:
    assert {"ApiUrl", "AdminBaseUrl"} <= set(template["Outputs"])

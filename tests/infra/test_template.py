"""The synthesized template: routes, authorizer, IAM, logs, functions and outputs."""

from __future__ import annotations

import ast
import fnmatch
import re
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from aws_lambda_powertools.shared.version import VERSION as POWERTOOLS_VERSION
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.functions import XRAY_ACTIONS
from infra.outputs import OUTPUT_KEYS, function_name_output
from infra.secrets import MANAGE_ACTIONS, READ_ACTIONS, ROTATE_ACTIONS
from infra.settings import StackSettings, stack_secret_prefix
from infra.testing import functions_by_handler, synth_template
from tests.infra.variants import KMS_KEY_ARN
from tests.support import store_calls
from tests.unit.test_lockfiles import pins
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.deployment.routes import IDENTITY_SOURCE, ROUTE_IDENTITY_SOURCE, ROUTES
from tokengate_core.records.store import api_name

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

SERVICES = Path(__file__).resolve().parents[2] / "services"
#: The default stack's secret prefix: its own, derived from its name.
DEFAULT_PREFIX = "tokengate/TokenGate/clients/"


# -- helpers -----------------------------------------------------------------------------------------


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def function_ids(template: dict[str, Any]) -> dict[FunctionName, str]:
    """Function name (FUNCTIONS key) -> logical id, by handler."""
    by_handler = {spec.handler: name for name, spec in FUNCTIONS.items()}
    return {
        by_handler[props["Properties"]["Handler"]]: logical_id
        for logical_id, props in resources(template, "AWS::Lambda::Function").items()
    }


def statements_by_function(template: dict[str, Any]) -> dict[FunctionName, list[dict[str, Any]]]:
    """Every IAM statement attached to each function's execution role."""
    role_of = {
        name: template["Resources"][logical_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        for name, logical_id in function_ids(template).items()
    }
    result: dict[FunctionName, list[dict[str, Any]]] = {name: [] for name in role_of}
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = {r["Ref"] for r in policy["Properties"]["Roles"]}
        for name, role in role_of.items():
            if role in roles:
                result[name] += policy["Properties"]["PolicyDocument"]["Statement"]
    return result


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict[str, Any]], prefix: str) -> set[str]:
    return {a for s in statements for a in as_list(s["Action"]) if a.startswith(prefix)}


def prefix_arn(prefix: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":secretsmanager:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":secret:{prefix}*",
            ],
        ]
    }


def keyring_ref(template: dict[str, Any]) -> dict[str, str]:
    """A reference to the keyring secret, the one secret the stack creates."""
    (logical_id,) = resources(template, "AWS::SecretsManager::Secret")
    return {"Ref": logical_id}


def assert_on_the_prefix(template: dict[str, Any], statement: dict[str, Any], prefix: str) -> None:
    """A Secrets Manager grant covers the prefix, or, for the sweep's keyring write and the
    authorizer's keyring read, the keyring alone."""
    if statement.get("Sid") == "KeyringWrite":
        assert as_list(statement["Action"]) == ["secretsmanager:PutSecretValue"], statement
        assert statement["Resource"] == keyring_ref(template), statement
    elif statement.get("Sid") == "Keyring":
        assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"], statement
        assert statement["Resource"] == keyring_ref(template), statement
    else:
        assert statement["Resource"] == prefix_arn(prefix), statement


def store_operations() -> set[str]:
    """Secrets Manager operations SecretsStore calls, as IAM actions."""
    return {"secretsmanager:" + api_name(operation) for operation, _ in store_calls()}


# -- routes and authorizer -------------------------------------------------------------------------------


def test_routes_and_their_authorization_come_from_the_route_table(
    template: Template, template_json: dict[str, Any]
) -> None:
    routes = resources(template_json, "AWS::ApiGatewayV2::Route")
    assert {r["Properties"]["RouteKey"]: r["Properties"]["AuthorizationType"] for r in routes.values()} == {
        route.route_key: route.authorization for route in ROUTES
    }
    (authorizer_id,) = resources(template_json, "AWS::ApiGatewayV2::Authorizer")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {"RouteKey": "ANY /invoke", "AuthorizationType": "CUSTOM", "AuthorizerId": {"Ref": authorizer_id}},
    )
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Route",
        {"RouteKey": "ANY /admin/{proxy+}", "AuthorizationType": "AWS_IAM", "AuthorizerId": Match.absent()},
    )


def test_each_route_integrates_its_function(template_json: dict[str, Any]) -> None:
    ids = function_ids(template_json)
    integrations = resources(template_json, "AWS::ApiGatewayV2::Integration")
    for route in resources(template_json, "AWS::ApiGatewayV2::Route").values():
        target = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        integration = integrations[target]["Properties"]
        uri = integration["IntegrationUri"]["Fn::GetAtt"][0]
        expected = next(r.function for r in ROUTES if r.route_key == route["Properties"]["RouteKey"])
        assert uri == ids[expected]
        assert integration["PayloadFormatVersion"] == "2.0"


def test_authorizer_is_request_payload_2_simple_uncached_by_default(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "REQUEST",
            "AuthorizerPayloadFormatVersion": "2.0",
            "EnableSimpleResponses": True,
            # Usage control is on by default: every request reaches the authorizer.
            "AuthorizerResultTtlInSeconds": 0,
            "IdentitySource": [IDENTITY_SOURCE],
        },
    )


def test_with_api_cache_a_decision_is_cached_per_token_route_and_method(variant: Template) -> None:
    variant.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerResultTtlInSeconds": 60,
            "IdentitySource": [IDENTITY_SOURCE, ROUTE_IDENTITY_SOURCE, "$context.httpMethod"],
            "EnableSimpleResponses": True,
        },
    )


def test_stage_is_named_logged_and_throttled(template: Template, variant: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "dev",
            "AutoDeploy": True,
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [Match.string_like_regexp("ApiAccessLogs"), "Arn"]},
                "Format": Match.string_like_regexp(r"\$context\.requestId"),
            },
            "DefaultRouteSettings": {"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200},
        },
    )
    variant.has_resource_properties("AWS::ApiGatewayV2::Stage", {"StageName": "prod"})


def test_access_log_never_records_headers(template_json: dict[str, Any]) -> None:
    (stage,) = resources(template_json, "AWS::ApiGatewayV2::Stage").values()
    log_format = stage["Properties"]["AccessLogSettings"]["Format"]
    assert "header" not in log_format.lower()
    assert "authorization" not in log_format.lower()


# -- IAM ------------------------------------------------------------------------------------------------


def test_no_statement_grants_a_service_wildcard_or_star_resource_except_list_secrets_and_xray(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl in (template_json, variant_json):
        for policy in resources(tpl, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = as_list(statement["Action"])
                assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
                if "*" in as_list(statement["Resource"]):
                    assert sorted(actions) in (["secretsmanager:ListSecrets"], sorted(XRAY_ACTIONS)), statement
    xray = {"Action": sorted(XRAY_ACTIONS), "Effect": "Allow", "Resource": "*", "Sid": "XRayWrite"}
    for name, statements in statements_by_function(template_json).items():
        star = [s for s in statements if s["Resource"] == "*"]
        expected = [xray] if FUNCTIONS[name].traced else []
        if name in ("admin", "sweep"):
            expected.append(
                {"Action": "secretsmanager:ListSecrets", "Effect": "Allow", "Resource": "*", "Sid": "ListSecrets"}
            )
        assert sorted(star, key=str) == sorted(expected, key=str), name


def test_exactly_the_functions_that_run_tracer_are_actively_traced(template_json: dict[str, Any]) -> None:
    """A handler that builds a Tracer in an untraced function pays its import for nothing; a traced
    function without one records only Lambda's own segments. Either way, code and stack disagree."""
    traced = {name for name, spec in FUNCTIONS.items() if spec.traced}
    assert traced == {"admin", "rotation"}
    tracing_policies = {lid: p for lid, p in resources(template_json, "AWS::IAM::Policy").items() if "Tracing" in lid}
    for name, logical_id in function_ids(template_json).items():
        function = template_json["Resources"][logical_id]
        module = FUNCTIONS[name].handler.rpartition(".")[0]
        source = ast.parse((SERVICES / (module.replace(".", "/") + ".py")).read_text())
        builds_tracer = any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Tracer" for n in ast.walk(source)
        )
        assert builds_tracer is (name in traced), name
        if name in traced:
            assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}
            role = function["Properties"]["Role"]["Fn::GetAtt"][0]
            (policy_id,) = [lid for lid, p in tracing_policies.items() if p["Properties"]["Roles"] == [{"Ref": role}]]
            # Lambda refuses active tracing to a role without these rights: the policy comes first.
            assert policy_id in function["DependsOn"]
        else:
            assert "TracingConfig" not in function["Properties"]
    assert len(tracing_policies) == len(traced)


def test_traced_functions_never_record_a_response_or_an_error_message(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    """Tracer's defaults would put the admin API's response (an issued token) and exception
    messages into X-Ray; the traced functions' environment turns both off."""
    for tpl in (template_json, variant_json):
        for name, spec in FUNCTIONS.items():
            env = functions_by_handler(tpl)[spec.handler]["Environment"]["Variables"]
            switches = {k: v for k, v in env.items() if k.startswith("POWERTOOLS_TRACER_")}
            if spec.traced:
                assert switches == {
                    "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",
                    "POWERTOOLS_TRACER_CAPTURE_ERROR": "false",
                }, name
            else:
                assert switches == {}, name


def test_every_secrets_manager_grant_is_on_the_secret_prefix(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl, prefix in ((template_json, DEFAULT_PREFIX), (variant_json, "acme/tokens/")):
        for statements in statements_by_function(tpl).values():
            for s in statements:
                if actions_of([s], "secretsmanager:") - {"secretsmanager:ListSecrets"}:
                    assert_on_the_prefix(tpl, s, prefix)


def test_each_function_gets_exactly_its_secrets_manager_actions(template_json: dict[str, Any]) -> None:
    granted = {name: actions_of(s, "secretsmanager:") for name, s in statements_by_function(template_json).items()}
    assert granted["authorizer"] == set(READ_ACTIONS) == {"secretsmanager:GetSecretValue"}
    assert granted["delivery"] == set(READ_ACTIONS)
    assert granted["main"] == set()
    assert granted["rotation"] == set(ROTATE_ACTIONS)
    # The sweep reads and lists clients, and writes the keyring only (assert_on_the_prefix).
    assert granted["sweep"] == {*READ_ACTIONS, "secretsmanager:ListSecrets", "secretsmanager:PutSecretValue"}
    # The admin function may call exactly what SecretsStore calls: no call without a grant, no grant without a call.
    assert granted["admin"] == set(MANAGE_ACTIONS) | {"secretsmanager:ListSecrets"} == store_operations()


def test_the_authorizer_can_read_no_client_secret_only_the_keyring_and_the_index(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    """Client lookups read the digest index (digests only): the authorizer's role reads one secret,
    the keyring, by its ARN, and the table only on the index's and the feed's partitions."""
    for tpl in (template_json, variant_json):
        statements = statements_by_function(tpl)["authorizer"]
        secret_reads = [s for s in statements if actions_of([s], "secretsmanager:")]
        assert [(as_list(s["Action"]), s["Resource"]) for s in secret_reads] == [
            (["secretsmanager:GetSecretValue"], keyring_ref(tpl))
        ]
        table = {
            tuple(sorted(as_list(s["Action"]))): s.get("Condition") for s in statements if actions_of([s], "dynamodb:")
        }
        assert table == {
            ("dynamodb:UpdateItem",): {  # usage counters and last use
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["rate#*", "quota#*", "usage#*", "used#*"]}
            },
            ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query"): {  # the index and the feed
                "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["index#*", "feed"]}
            },
        }


def test_main_function_may_only_write_its_logs(template_json: dict[str, Any]) -> None:
    (statement,) = statements_by_function(template_json)["main"]
    assert sorted(as_list(statement["Action"])) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    logical_id, attribute = statement["Resource"]["Fn::GetAtt"]
    assert "MainLogs" in logical_id and attribute == "Arn"


def test_admin_may_pass_only_the_rotation_function(template_json: dict[str, Any]) -> None:
    rotation_id = function_ids(template_json)["rotation"]
    lambda_statements = [s for s in statements_by_function(template_json)["admin"] if actions_of([s], "lambda:")]
    assert lambda_statements == [
        {
            "Action": "lambda:InvokeFunction",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [rotation_id, "Arn"]},
            "Sid": "RotationFunction",
        }
    ]
    for name in ("authorizer", "main", "rotation", "delivery"):
        assert not actions_of(statements_by_function(template_json)[name], "lambda:")


def test_secrets_manager_may_invoke_rotation_only_for_this_account(
    template: Template, template_json: dict[str, Any]
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "Principal": "secretsmanager.amazonaws.com",
            "SourceAccount": {"Ref": "AWS::AccountId"},
            "FunctionName": {"Fn::GetAtt": [function_ids(template_json)["rotation"], "Arn"]},
        },
    )
    secretsmanager_permissions = [
        p
        for p in resources(template_json, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    ]
    assert len(secretsmanager_permissions) == 1


def test_kms_key_grants_only_via_secrets_manager_for_prefixed_secrets(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    assert all(not actions_of(s, "kms:") for s in statements_by_function(template_json).values())
    statements = statements_by_function(variant_json)
    expected: dict[FunctionName, set[str]] = {
        "authorizer": {"kms:Decrypt"},
        "rotation": {"kms:Decrypt", "kms:GenerateDataKey"},
        "admin": {"kms:Decrypt", "kms:GenerateDataKey"},
        "delivery": {"kms:Decrypt"},
        "main": set(),
    }
    for name, actions in expected.items():
        secrets_key = [s for s in statements[name] if s.get("Sid") == "TokenSecretsKey"]
        assert actions_of(secrets_key, "kms:") == actions
        # The authorizer's key use is for the keyring alone: it reads no client secret.
        secret_arn = keyring_ref(variant_json) if name == "authorizer" else prefix_arn("acme/tokens/")
        for s in secrets_key:
            if actions_of([s], "kms:"):
                assert s["Resource"] == KMS_KEY_ARN
                assert s["Condition"]["StringEquals"]["kms:ViaService"] == {
                    "Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
                }
                assert s["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"] == secret_arn


def test_two_stacks_in_one_account_each_get_their_own_secret_prefix() -> None:
    """Neither stack's functions read, nor its grants cover, a secret under the other's prefix;
    the context key still overrides the derived default."""
    names = ("TokenGate", "TokenGate-2")
    prefixes = {}
    for name in names:
        tpl = synth_template({"stackName": name})
        prefix = stack_secret_prefix(name)
        assert tpl["Outputs"]["SecretPrefix"]["Value"] == prefix
        for props in functions_by_handler(tpl).values():
            assert props["Environment"]["Variables"].get("TOKENGATE_SECRET_PREFIX", prefix) == prefix
        for statements in statements_by_function(tpl).values():
            for s in statements:
                if actions_of([s], "secretsmanager:") - {"secretsmanager:ListSecrets"}:
                    assert_on_the_prefix(tpl, s, prefix)
        prefixes[name] = prefix
    first, second = prefixes.values()
    assert first == DEFAULT_PREFIX
    assert not fnmatch.fnmatchcase(f"{second}k_abc", f"{first}*")
    assert not fnmatch.fnmatchcase(f"{first}k_abc", f"{second}*")
    assert StackSettings.from_mapping({"stackName": "TokenGate-2", "secretPrefix": "x/"}).secret_prefix == "x/"


# -- functions --------------------------------------------------------------------------------------------


def test_handlers_and_env_var_names_match_the_core_config_models(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    kms_var = AdminSettings.env_name("kms_key_id")
    for tpl, with_kms in ((template_json, False), (variant_json, True)):
        functions = functions_by_handler(tpl)
        assert set(functions) == {spec.handler for spec in FUNCTIONS.values()}
        for name, spec in FUNCTIONS.items():
            names = set(functions[spec.handler]["Environment"]["Variables"])
            expected = set(spec.settings.env_names())
            if name == "admin" and not with_kms:
                expected -= {kms_var}
            if name == "leaks":
                expected -= {"TOKENGATE_GITHUB_KEYS_FILE"}  # a local file of keys: tests and offline use
            if name == "sweep" and not with_kms:  # the default stack: stale clients off (the variant sets them)
                expected -= {"TOKENGATE_STALE_AFTER_DAYS"}
            assert names == expected, name


def test_env_values_are_the_deploy_settings(template_json: dict[str, Any], variant_json: dict[str, Any]) -> None:
    env = {h: f["Environment"]["Variables"] for h, f in functions_by_handler(template_json).items()}
    assert env["authorizer.app.handler"]["TOKENGATE_CACHE_TTL_SECONDS"] == "3600.0"  # while the feed is read
    assert env["authorizer.app.handler"]["TOKENGATE_FALLBACK_TTL_SECONDS"] == "30.0"
    assert env["admin.app.handler"]["TOKENGATE_ROTATION_FUNCTION_ARN"] == {
        "Fn::GetAtt": [function_ids(template_json)["rotation"], "Arn"]
    }
    variant_env = {h: f["Environment"]["Variables"] for h, f in functions_by_handler(variant_json).items()}
    assert variant_env["admin.app.handler"]["TOKENGATE_KMS_KEY_ID"] == KMS_KEY_ARN
    for handler in ("authorizer.app.handler", "admin.app.handler", "rotation.app.handler", "delivery.app.handler"):
        assert variant_env[handler]["TOKENGATE_SECRET_PREFIX"] == "acme/tokens/"
    # Every function that mints tokens or tells the deployment's from others has its prefix.
    minting = [h for h, v in variant_env.items() if "TOKENGATE_TOKEN_PREFIX" in v]
    assert {"authorizer.app.handler", "admin.app.handler", "rotation.app.handler"} <= set(minting)
    assert {variant_env[h]["TOKENGATE_TOKEN_PREFIX"] for h in minting} == {"acme_"}
    assert {env[h]["TOKENGATE_TOKEN_PREFIX"] for h in minting} == {"tg_"}


def test_functions_run_the_newest_python_on_arm64_with_the_layer_of_the_powertools_the_tests_run(
    template_json: dict[str, Any],
) -> None:
    pythons = [r.name for r in lambda_.Runtime.ALL if re.fullmatch(r"python3\.\d+", r.name)]
    newest = max(pythons, key=lambda n: int(n.split(".")[1]))
    # The release these tests import is the one the lockfile pins, and the layer is that release's.
    assert (
        POWERTOOLS_VERSION
        == str(pins("run.txt")["aws-lambda-powertools"])
        == str(pins("dev.txt")["aws-lambda-powertools"])
    )
    parameter = f"/aws/service/powertools/python/arm64/{newest}/{POWERTOOLS_VERSION}"
    (layer_parameter,) = [
        name for name, p in template_json["Parameters"].items() if p.get("Default", "").startswith("/aws/service/")
    ]
    assert template_json["Parameters"][layer_parameter] == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": parameter,
    }
    for name, logical_id in function_ids(template_json).items():
        props = template_json["Resources"][logical_id]["Properties"]
        assert props["Runtime"] == newest
        assert props["Architectures"] == ["arm64"]
        extension = [
            {"Ref": i} for i, r in template_json["Resources"].items() if r["Type"] == "AWS::Lambda::LayerVersion"
        ]
        assert props["Layers"] == [{"Ref": layer_parameter}, *(extension if FUNCTIONS[name].graceful_shutdown else [])]
        assert props["MemorySize"] == FUNCTIONS[name].memory_mb
        assert props["Timeout"] == FUNCTIONS[name].timeout_seconds
        assert "ReservedConcurrentExecutions" not in props


def test_the_pydantic_the_tests_run_is_one_the_powertools_release_accepts() -> None:
    """The layer installs the release with its extras, so its pydantic satisfies the release's own
    requirement; so must the locked one (the layer's exact pydantic is what that requirement
    resolved to when Powertools built the layer)."""
    locked = pins("run.txt")
    requirements = [Requirement(r) for r in metadata.requires("aws-lambda-powertools") or []]
    wanted = [r for r in requirements if canonicalize_name(r.name) == "pydantic"]
    assert wanted, "Powertools declares its pydantic requirement (its parser extra)"
    for requirement in wanted:
        assert requirement.specifier.contains(locked["pydantic"]), (requirement, locked["pydantic"])
    assert str(locked["pydantic"]) == metadata.version("pydantic")


def test_reserved_concurrency_is_optional_per_function(variant_json: dict[str, Any]) -> None:
    reserved = {
        name: variant_json["Resources"][logical_id]["Properties"].get("ReservedConcurrentExecutions")
        for name, logical_id in function_ids(variant_json).items()
    }
    assert reserved == {"authorizer": 20} | {name: None for name in FUNCTIONS if name != "authorizer"}


# -- logs and outputs -------------------------------------------------------------------------------------


def test_every_log_group_has_retention_and_each_function_logs_to_its_own(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl, days in ((template_json, 30), (variant_json, 90)):
        groups = resources(tpl, "AWS::Logs::LogGroup")
        assert len(groups) == len(FUNCTIONS) + 2  # plus the API access log and the lifecycle events
        assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {days}
        used = [
            tpl["Resources"][lid]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            for lid in function_ids(tpl).values()
        ]
        assert len(set(used)) == len(FUNCTIONS) and set(used) <= set(groups)


def test_outputs_have_the_contract_keys(template: Template, template_json: dict[str, Any]) -> None:
    assert (
        set(template_json["Outputs"])
        == set(OUTPUT_KEYS)
        == {
            "ApiUrl",
            "AdminBaseUrl",
            "AuthorizerFunctionName",
            "MainFunctionName",
            "AdminFunctionName",
            "RotationFunctionName",
            "DeliveryFunctionName",
            "SweepFunctionName",
            "LeaksFunctionName",
            "LeaksUrl",
            "SecretPrefix",
            "TokenPrefix",
            "KeyringSecretName",
            "TableName",
            "LifecycleLogGroup",
        }
    )
    template.has_output("SecretPrefix", {"Value": DEFAULT_PREFIX})
    template.has_output("KeyringSecretName", {"Value": f"{DEFAULT_PREFIX}keyring"})
    (table_id,) = resources(template_json, "AWS::DynamoDB::Table")
    template.has_output("TableName", {"Value": {"Ref": table_id}})
    api_url = template_json["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api_url[0] == "https://" and api_url[-1] == "/dev"
    admin_url = template_json["Outputs"]["AdminBaseUrl"]["Value"]["Fn::Join"][1]
    assert admin_url[:-1] == api_url[:-1] and admin_url[-1] == "/dev/admin"
    for name in FUNCTIONS:
        key = function_name_output(name)
        assert template_json["Outputs"][key]["Value"] == {"Ref": function_ids(template_json)[name]}


def test_the_shutdown_extension_layer_holds_the_extension_and_is_compatible_with_the_functions(
    template_json: dict[str, Any],
) -> None:
    """One layer, for the functions that ask for SIGTERM, built for their runtime and architecture."""
    (layer,) = resources(template_json, "AWS::Lambda::LayerVersion").values()
    authorizer = template_json["Resources"][function_ids(template_json)["authorizer"]]["Properties"]
    assert layer["Properties"]["CompatibleRuntimes"] == [authorizer["Runtime"]]
    assert layer["Properties"]["CompatibleArchitectures"] == authorizer["Architectures"]

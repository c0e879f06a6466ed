"""The template's signing keyring, name table, token delivery function and token status header."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.api import authorizer_response_parameters
from infra.secrets import READ_ACTIONS
from infra.table import ALERT_MEMORY_ACTIONS, ITEM_ACTIONS, USAGE_COUNTER_ACTIONS, USAGE_REPORT_ACTIONS
from tests.infra.test_template import (
    DEFAULT_PREFIX,
    actions_of,
    as_list,
    function_ids,
    resources,
    statements_by_function,
)
from tests.infra.variants import KMS_KEY_ARN
from tokengate_core.deployment.config import AdminSettings, AuthorizerSettings
from tokengate_core.deployment.functions import FunctionName
from tokengate_core.deployment.routes import (
    DELIVERY_ROUTE,
    ROUTES,
    TOKEN_STATUS_HEADER,
    authorizer_response_headers,
    mapped_status_codes,
)
from tokengate_core.lifecycle import alerts
from tokengate_core.records import names as registry
from tokengate_core.records.view import TOKEN_STATUS_KEY
from tokengate_core.tokens import keyring

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def the_table(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, table),) = resources(template, "AWS::DynamoDB::Table").items()
    return logical_id, table


def the_keyring(template: dict[str, Any]) -> dict[str, Any]:
    (secret,) = resources(template, "AWS::SecretsManager::Secret").values()
    return secret


def integration_of(template: dict[str, Any], route_key: str) -> dict[str, Any]:
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    (route,) = [
        r for r in resources(template, "AWS::ApiGatewayV2::Route").values() if r["Properties"]["RouteKey"] == route_key
    ]
    target = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
    properties: dict[str, Any] = integrations[target]["Properties"]
    return properties


# -- the name table ---------------------------------------------------------------------------------


def test_the_table_has_the_registry_key_schema_on_demand_with_recovery_ttl_and_retention(
    template_json: dict[str, Any],
) -> None:
    _, table = the_table(template_json)
    props = table["Properties"]
    assert props["KeySchema"] == registry.key_schema()
    assert props["AttributeDefinitions"] == registry.attribute_definitions()
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": registry.TTL_ATTRIBUTE, "Enabled": True}
    # SSEEnabled false is DynamoDB's AWS owned key: encrypted at rest, at no charge.
    assert props["SSESpecification"] == {"SSEEnabled": False}
    assert "TableName" not in props, "CloudFormation names it; the functions read the name from their env"
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_with_a_customer_managed_key_the_table_is_encrypted_with_it(variant_json: dict[str, Any]) -> None:
    _, table = the_table(variant_json)
    assert table["Properties"]["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": KMS_KEY_ARN,
    }


def test_the_admin_and_authorizer_functions_get_the_table_name_from_the_stack(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl in (template_json, variant_json):
        table_id, _ = the_table(tpl)
        named: tuple[tuple[FunctionName, type[AdminSettings] | type[AuthorizerSettings]], ...] = (
            ("admin", AdminSettings),
            ("authorizer", AuthorizerSettings),
        )
        for name, settings in named:
            env = tpl["Resources"][function_ids(tpl)[name]]["Properties"]["Environment"]["Variables"]
            assert env[settings.env_name("table_name")] == {"Ref": table_id}, name


#: Which functions touch the table, and with what (each set is checked against the code that calls it
#: in tests/infra/test_usage_control_stack.py).
TABLE_ACTIONS: dict[FunctionName, tuple[str, ...]] = {
    "admin": (*ITEM_ACTIONS, *USAGE_REPORT_ACTIONS),
    "authorizer": USAGE_COUNTER_ACTIONS,
    "leaks": ALERT_MEMORY_ACTIONS,
}
#: Functions that may touch only the items under one partition-key prefix (dynamodb:LeadingKeys).
TABLE_ITEMS: dict[FunctionName, str] = {"leaks": alerts.KEY_PREFIX}


def test_only_the_admin_the_authorizer_and_the_leak_function_touch_the_table_each_with_its_own_calls(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl in (template_json, variant_json):
        table_id, _ = the_table(tpl)
        statements = statements_by_function(tpl)
        for name, granted in statements.items():
            dynamodb = [s for s in granted if actions_of([s], "dynamodb:")]
            if name not in TABLE_ACTIONS:
                assert dynamodb == [], name
                continue
            actions = sorted(TABLE_ACTIONS[name])
            expected: dict[str, Any] = {
                "Action": actions if len(actions) > 1 else actions[0],  # CloudFormation's form of one
                "Effect": "Allow",
                "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
                "Sid": "Table",
            }
            if name in TABLE_ITEMS:
                expected["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{TABLE_ITEMS[name]}*"]}}
            assert dynamodb == [expected], name
        assert not [
            s
            for p in resources(tpl, "AWS::IAM::Policy").values()
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if "dynamodb:*" in as_list(s["Action"])
        ]


def test_with_a_customer_managed_key_table_users_may_decrypt_only_through_dynamodb_for_the_table(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for granted in statements_by_function(template_json).values():
        assert not [s for s in granted if s.get("Sid") == "TableKey"]
    table_id, _ = the_table(variant_json)
    for name, granted in statements_by_function(variant_json).items():
        keys = [s for s in granted if s.get("Sid") == "TableKey"]
        if name not in TABLE_ACTIONS:
            assert not keys, name
            continue
        (statement,) = keys
        assert statement["Action"] == "kms:Decrypt"
        assert statement["Resource"] == KMS_KEY_ARN
        assert statement["Condition"] == {
            "StringEquals": {
                "kms:ViaService": {"Fn::Join": ["", ["dynamodb.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]},
                "kms:EncryptionContext:aws:dynamodb:tableName": {"Ref": table_id},
            }
        }


# -- the signing keyring ----------------------------------------------------------------------------


def test_the_stack_creates_the_keyring_with_a_generated_first_key(template: Template) -> None:
    template.resource_count_is("AWS::SecretsManager::Secret", 1)
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "Properties": {
                "Name": keyring.secret_name(DEFAULT_PREFIX),
                "GenerateSecretString": {
                    "SecretStringTemplate": json.dumps({"version": keyring.FORMAT_VERSION}, separators=(",", ":")),
                    "GenerateStringKey": "k1",
                    "ExcludePunctuation": True,
                    "PasswordLength": 64,
                },
                "KmsKeyId": Match.absent(),
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    # Secrets Manager never rotates it: POST /admin/keys/rotate adds keys and keeps the old ones.
    template.resource_count_is("AWS::SecretsManager::RotationSchedule", 0)


def test_what_the_keyring_generates_is_a_keyring_the_core_accepts() -> None:
    generated = {"version": keyring.FORMAT_VERSION, "k1": "A1b2" * 16}  # 64 letters and digits
    ring = keyring.parse(json.dumps(generated))
    assert [k.name for k in ring.keys] == ["k1"] and ring.keys[0].added_at is None


def test_the_keyring_follows_the_prefix_and_the_key(variant_json: dict[str, Any]) -> None:
    props = the_keyring(variant_json)["Properties"]
    assert props["Name"] == keyring.secret_name("acme/tokens/")
    assert props["KmsKeyId"] == KMS_KEY_ARN


@pytest.mark.parametrize(
    ("function", "needed"),
    [
        ("authorizer", {"secretsmanager:GetSecretValue"}),
        ("rotation", {"secretsmanager:GetSecretValue"}),
        ("admin", {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}),
    ],
)
def test_the_prefix_grants_cover_the_keyring(
    template_json: dict[str, Any], function: FunctionName, needed: set[str]
) -> None:
    name = the_keyring(template_json)["Properties"]["Name"]
    covering = set()
    for statement in statements_by_function(template_json)[function]:
        resource = statement["Resource"]
        if isinstance(resource, dict) and "Fn::Join" in resource:
            pattern = resource["Fn::Join"][1][-1].removeprefix(":secret:")
            if fnmatch.fnmatchcase(name, pattern):
                covering |= actions_of([statement], "secretsmanager:")
    assert needed <= covering


# -- token delivery ---------------------------------------------------------------------------------


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


# -- the token status header ----------------------------------------------------------------------


def test_every_custom_route_maps_the_token_status_header_on_every_status_code(template_json: dict[str, Any]) -> None:
    assert authorizer_response_headers() == {TOKEN_STATUS_HEADER: TOKEN_STATUS_KEY}
    for route in ROUTES:
        parameters = integration_of(template_json, route.route_key).get("ResponseParameters")
        if route.authorization != "CUSTOM":
            assert parameters is None, route  # an IAM caller has no authorizer context
            continue
        assert parameters == authorizer_response_parameters()
        assert set(parameters) == {str(code) for code in mapped_status_codes()}
        assert {"200", "403", "404", "500", "503"} <= set(parameters)
        for mapping in parameters.values():
            assert mapping == {
                "ResponseParameters": [
                    {
                        "Destination": "overwrite:header.Tokengate-Token-Status",
                        "Source": "$context.authorizer.token_status",
                    }
                ]
            }


def test_mapped_status_codes_are_what_api_gateway_accepts() -> None:
    codes = mapped_status_codes()
    assert all(200 <= code <= 599 for code in codes)
    assert len(set(codes)) == len(codes)

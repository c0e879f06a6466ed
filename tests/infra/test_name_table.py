"""The template's name table: its key schema, encryption and retention, and which functions may
touch it, with which calls."""

from __future__ import annotations

from typing import Any

import pytest

from infra.sweep import RECONCILE_ITEM_ACTIONS
from infra.table import (
    ALERT_MEMORY_ACTIONS,
    INDEX_FEED_KEYS,
    INDEX_READ_ACTIONS,
    INDEX_WRITE_ACTIONS,
    ITEM_ACTIONS,
    LAST_USED_READ_ACTIONS,
    USAGE_COUNTER_ACTIONS,
    USAGE_REPORT_ACTIONS,
)
from tests.infra.test_template import actions_of, as_list, function_ids, resources, statements_by_function
from tests.infra.variants import KMS_KEY_ARN
from tokengate_core.authorize import last_used
from tokengate_core.authorize.usage_table import AUTHORIZER_ITEMS
from tokengate_core.deployment.config import AdminSettings, AuthorizerSettings
from tokengate_core.deployment.functions import FunctionName
from tokengate_core.lifecycle import alerts
from tokengate_core.records import github_keys
from tokengate_core.records import names as registry

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def the_table(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((logical_id, table),) = resources(template, "AWS::DynamoDB::Table").items()
    return logical_id, table


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
#: Each table user's statements: (actions, the partition keys it is limited to, None for any).
TABLE_GRANTS: dict[FunctionName, list[tuple[tuple[str, ...], list[str] | None]]] = {
    "admin": [
        (
            (*ITEM_ACTIONS, *USAGE_REPORT_ACTIONS, *INDEX_WRITE_ACTIONS, *LAST_USED_READ_ACTIONS),
            ["tenant#*", "client#*", "usage#*", "guardrails#*", f"{last_used.KEY_PREFIX}*", *INDEX_FEED_KEYS],
        )
    ],
    "authorizer": [(USAGE_COUNTER_ACTIONS, list(AUTHORIZER_ITEMS)), (INDEX_READ_ACTIONS, list(INDEX_FEED_KEYS))],
    "leaks": [
        ((*github_keys.ACTIONS, *ALERT_MEMORY_ACTIONS), [github_keys.PARTITION, f"{alerts.KEY_PREFIX}*"]),
        (INDEX_WRITE_ACTIONS, list(INDEX_FEED_KEYS)),
    ],
    "rotation": [(INDEX_WRITE_ACTIONS, list(INDEX_FEED_KEYS))],
    "sweep": [(RECONCILE_ITEM_ACTIONS, list(INDEX_FEED_KEYS))],
}
#: With staleAfterDays (the variant), the sweep reads the clients' last use too.
STALE_SWEEP_GRANTS = {
    **TABLE_GRANTS,
    "sweep": [*TABLE_GRANTS["sweep"], (LAST_USED_READ_ACTIONS, [f"{last_used.KEY_PREFIX}*"])],
}
TABLE_ACTIONS = set(TABLE_GRANTS)
#: The one grant apart: the reconciliation's Scan for index items (a Scan names no key to condition on).
SCANS: dict[FunctionName, str] = {"sweep": "IndexScan"}


def test_only_the_functions_that_need_the_table_touch_it_each_with_its_own_item_calls(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    for tpl, table_users in ((template_json, TABLE_GRANTS), (variant_json, STALE_SWEEP_GRANTS)):
        table_id, _ = the_table(tpl)
        statements = statements_by_function(tpl)
        for name, granted in statements.items():
            scan_sid = SCANS.get(name, "-")
            dynamodb = [s for s in granted if actions_of([s], "dynamodb:") and s.get("Sid") != scan_sid]
            scans = [s for s in granted if s.get("Sid") == scan_sid]
            assert [(s["Action"], s["Resource"]) for s in scans] == (
                [("dynamodb:Scan", {"Fn::GetAtt": [table_id, "Arn"]})] if name in SCANS else []
            ), name
            expected: list[dict[str, Any]] = []
            for i, (actions, keys) in enumerate(table_users.get(name, [])):
                listed = sorted(set(actions))
                statement: dict[str, Any] = {
                    "Action": listed if len(listed) > 1 else listed[0],  # CloudFormation's form of one
                    "Effect": "Allow",
                    "Resource": {"Fn::GetAtt": [table_id, "Arn"]},
                    "Sid": f"Table{i or ''}",
                }
                if keys is not None:
                    statement["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": keys}}
                expected.append(statement)
            assert dynamodb == expected, name
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

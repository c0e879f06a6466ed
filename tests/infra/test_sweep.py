"""The sweep in the template: two schedules invoke it (and only those rules may), the daily one
with its warning window in the environment, the other asking for the reconciliation; it may write
the keyring secret and no other, and the index and feed items of the table and no others."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.secrets import LEAK_ACTIONS, READ_ACTIONS
from infra.settings import SettingsError, StackSettings
from infra.sweep import RECONCILE_ITEM_ACTIONS
from infra.testing import functions_by_handler, synth_template
from tests.infra.test_template import as_list, function_ids, keyring_ref, resources, statements_by_function
from tests.infra.variants import KMS_KEY_ARN
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.reconcile import RECONCILE_INTERVAL_SECONDS, RECONCILE_TASK

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def scheduled_rules(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The scheduled rules (the other rule matches lifecycle events: see test_lifecycle_events)."""
    rules = resources(template, "AWS::Events::Rule").items()
    return {i: r["Properties"] for i, r in rules if "EventPattern" not in r["Properties"]}


def sweep_rule(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The daily sweep's rule: the scheduled one whose target carries no input."""
    ((rule_id, rule),) = [(i, r) for i, r in scheduled_rules(template).items() if "Input" not in r["Targets"][0]]
    return rule_id, rule


def reconcile_rule(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((rule_id, rule),) = [(i, r) for i, r in scheduled_rules(template).items() if "Input" in r["Targets"][0]]
    return rule_id, rule


@pytest.mark.parametrize(
    ("context", "schedule", "days"),
    [({}, "rate(1 day)", "7.0"), ({"sweepSchedule": "cron(0 6 * * ? *)", "expiryWarningDays": "14"}, None, "14.0")],
)
def test_a_schedule_invokes_the_sweep_with_its_warning_window(
    context: dict[str, str], schedule: str | None, days: str
) -> None:
    template = synth_template(context)
    rule_id, rule = sweep_rule(template)
    assert rule["ScheduleExpression"] == (schedule or context["sweepSchedule"])
    assert rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    sweep_id = function_ids(template)["sweep"]
    assert target["Arn"] == {"Fn::GetAtt": [sweep_id, "Arn"]} and target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    # Only the two schedules may invoke the function.
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [sweep_id, "Arn"]}
    ]
    assert sorted(permissions, key=str) == sorted(
        (
            {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": [sweep_id, "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
            }
            for rule in (rule_id, reconcile_rule(template)[0])
        ),
        key=str,
    )
    env = functions_by_handler(template)[FUNCTIONS["sweep"].handler]["Environment"]["Variables"]
    assert env["TOKENGATE_EXPIRY_WARNING_DAYS"] == days


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sweepSchedule", "every day"),
        ("sweepSchedule", "rate(0 days)"),
        ("expiryWarningDays", "0"),
        ("staleAfterDays", "0"),
        ("staleAfterDays", "forever"),
        ("staleAction", "delete"),
    ],
)
def test_a_bad_sweep_setting_fails_the_synth_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        StackSettings.from_mapping({key: value})


def test_with_a_customer_managed_key_the_sweep_may_encrypt_only_for_the_keyring(variant_json: dict[str, Any]) -> None:
    (statement,) = [s for s in statements_by_function(variant_json)["sweep"] if s.get("Sid") == "KeyringKey"]
    assert statement["Resource"] == KMS_KEY_ARN
    assert statement["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] == keyring_ref(variant_json)
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == {
        "Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]
    }


def test_the_reconciliation_runs_on_its_own_schedule(template_json: dict[str, Any]) -> None:
    _, rule = reconcile_rule(template_json)
    minutes = RECONCILE_INTERVAL_SECONDS // 60
    assert rule["ScheduleExpression"] == f"rate({minutes} minutes)" and rule["State"] == "ENABLED"
    (target,) = rule["Targets"]
    assert json.loads(target["Input"]) == {"task": RECONCILE_TASK}
    assert target["Arn"] == {"Fn::GetAtt": [function_ids(template_json)["sweep"], "Arn"]}


def test_the_sweep_reaches_the_index_and_feed_items_and_no_others(template_json: dict[str, Any]) -> None:
    statements = statements_by_function(template_json)["sweep"]
    (items,) = [s for s in statements if s.get("Sid") == "Table"]
    assert sorted(as_list(items["Action"])) == sorted(RECONCILE_ITEM_ACTIONS)
    assert items["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["index#*", "feed"]}}
    (scan,) = [s for s in statements if s.get("Sid") == "IndexScan"]
    assert scan["Action"] == "dynamodb:Scan"
    dynamodb_actions = {a for s in statements for a in as_list(s["Action"]) if a.startswith("dynamodb:")}
    assert dynamodb_actions == {*RECONCILE_ITEM_ACTIONS, "dynamodb:Scan"}  # no DeleteItem, no BatchWrite
    env = functions_by_handler(template_json)[FUNCTIONS["sweep"].handler]["Environment"]["Variables"]
    assert "TOKENGATE_TABLE_NAME" in env


def test_stale_clients_are_off_by_default_and_the_sweep_writes_no_secret(template_json: dict[str, Any]) -> None:
    env = functions_by_handler(template_json)[FUNCTIONS["sweep"].handler]["Environment"]["Variables"]
    assert "TOKENGATE_STALE_AFTER_DAYS" not in env and env["TOKENGATE_STALE_ACTION"] == "notify"
    (secrets,) = [s for s in statements_by_function(template_json)["sweep"] if s.get("Sid") == "TokenSecrets"]
    assert sorted(as_list(secrets["Action"])) == sorted(READ_ACTIONS)


def test_with_stale_action_disable_the_sweep_gets_the_disable_grant_and_its_settings(
    variant_json: dict[str, Any],
) -> None:
    env = functions_by_handler(variant_json)[FUNCTIONS["sweep"].handler]["Environment"]["Variables"]
    assert env["TOKENGATE_STALE_AFTER_DAYS"] == "90" and env["TOKENGATE_STALE_ACTION"] == "disable"
    (secrets,) = [s for s in statements_by_function(variant_json)["sweep"] if s.get("Sid") == "TokenSecrets"]
    assert sorted(as_list(secrets["Action"])) == sorted({*READ_ACTIONS, *LEAK_ACTIONS["disable"]})

"""Usage control in the stack: API Gateway's authorizer cache off while it is on, the admin function
told whether it is on, and each role granted exactly the DynamoDB calls its code makes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from infra.settings import SettingsError, StackSettings
from infra.sweep import RECONCILE_ITEM_ACTIONS
from infra.table import (
    ALERT_MEMORY_ACTIONS,
    INDEX_READ_ACTIONS,
    INDEX_WRITE_ACTIONS,
    ITEM_ACTIONS,
    LAST_USED_READ_ACTIONS,
    USAGE_COUNTER_ACTIONS,
    USAGE_REPORT_ACTIONS,
)
from infra.testing import functions_by_handler
from tests.infra.test_template import actions_of, resources, statements_by_function
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.deployment.routes import IDENTITY_SOURCE, authorizer_cache_allowed, identity_sources
from tokengate_core.records import github_keys, guardrails

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

CORE = Path(__file__).resolve().parents[2] / "services" / "tokengate_core"
USAGE_CONTROL_ENV = AdminSettings.env_name("usage_control")


def _iam_action(operation: str) -> str:
    """``update_item`` -> ``dynamodb:UpdateItem`` (botocore's snake_case method, IAM's action)."""
    return "dynamodb:" + "".join(part.title() for part in operation.split("_"))


def dynamodb_calls(module: str, scope: str) -> set[str]:
    """The DynamoDB operations the class or function ``scope`` of ``module`` calls, as IAM actions:
    ``self._call("op", ...)`` (DynamoUsage), ``self._client.op(...)`` (NameRegistry) or
    ``client.op(...)`` (read_usage). ``Class.method`` names one method."""
    body: list[ast.stmt] = ast.parse((CORE / module).read_text()).body
    *outer, name = scope.split(".")
    for part in outer:
        (cls,) = [n for n in body if isinstance(n, ast.ClassDef) and n.name == part]
        body = cls.body
    (node,) = [n for n in body if isinstance(n, ast.ClassDef | ast.FunctionDef) and n.name == name]
    found = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            continue
        target = call.func
        if target.attr == "_call" and call.args and isinstance(call.args[0], ast.Constant):
            found.add(_iam_action(str(call.args[0].value)))
        elif ast.unparse(target.value) in ("self._client", "client") and target.attr.islower():
            found.add(_iam_action(target.attr))
    return found


def authorizer(template: dict[str, Any]) -> dict[str, Any]:
    (resource,) = resources(template, "AWS::ApiGatewayV2::Authorizer").values()
    props: dict[str, Any] = resource["Properties"]
    return props


def admin_env(template: dict[str, Any]) -> dict[str, Any]:
    env: dict[str, Any] = functions_by_handler(template)[FUNCTIONS["admin"].handler]["Environment"]["Variables"]
    return env


def test_usage_control_is_on_by_default_with_api_gateways_cache_off(template_json: dict[str, Any]) -> None:
    assert StackSettings().usage_control is True
    props = authorizer(template_json)
    assert props["AuthorizerResultTtlInSeconds"] == 0
    assert props["IdentitySource"] == [IDENTITY_SOURCE] == identity_sources(cache_enabled=False)
    assert admin_env(template_json)[USAGE_CONTROL_ENV] == "true"


def test_without_usage_control_the_cache_may_be_on_and_the_admin_refuses_policies(variant_json: dict[str, Any]) -> None:
    props = authorizer(variant_json)
    assert props["AuthorizerResultTtlInSeconds"] == 60
    assert props["IdentitySource"] == identity_sources(cache_enabled=True)
    assert admin_env(variant_json)[USAGE_CONTROL_ENV] == "false"


@pytest.mark.parametrize("ttl", ["1", "300"])
def test_usage_control_with_the_cache_on_fails_the_synth_naming_both_keys(ttl: str) -> None:
    assert not authorizer_cache_allowed(usage_control=True)
    with pytest.raises(SettingsError, match=r"usageControl.*apiCacheTtlSeconds") as raised:
        StackSettings.from_mapping({"apiCacheTtlSeconds": ttl})
    assert f"got {ttl}" in str(raised.value)
    with pytest.raises(SettingsError, match=r"usageControl.*apiCacheTtlSeconds"):
        StackSettings.from_mapping({"usageControl": "true", "apiCacheTtlSeconds": ttl})
    assert StackSettings.from_mapping({"usageControl": "false", "apiCacheTtlSeconds": ttl}).api_cache_enabled


def test_each_role_gets_exactly_the_dynamodb_calls_its_code_makes(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    """No call without a grant (the call would fail in AWS only), no grant without a call."""
    authorizer_calls = dynamodb_calls("authorize/usage_table.py", "DynamoUsage")
    guardrail_calls = dynamodb_calls("records/guardrails.py", "GuardrailStore")
    assert guardrail_calls == set(guardrails.ACTIONS)
    admin_calls = (
        dynamodb_calls("records/names.py", "NameRegistry")
        | dynamodb_calls("authorize/usage_table.py", "read_usage")
        | guardrail_calls
        | dynamodb_calls("authorize/usage_table.py", "read_last_used")
    )
    assert authorizer_calls == set(USAGE_COUNTER_ACTIONS) == {"dynamodb:UpdateItem"}
    assert admin_calls == set(ITEM_ACTIONS) | set(USAGE_REPORT_ACTIONS) | set(LAST_USED_READ_ACTIONS)
    assert "dynamodb:Query" in admin_calls
    leak_calls = dynamodb_calls("records/github_keys.py", "SharedKeyList")
    assert leak_calls == set(github_keys.ACTIONS)
    alert_calls = dynamodb_calls("lifecycle/alerts.py", "AlertMemory")
    assert alert_calls == set(ALERT_MEMORY_ACTIONS)
    # The digest index and the change feed: the authorizer reads them, the writers write them.
    refresh = dynamodb_calls("records/index.py", "ClientIndex.get_items")  # the authorizer's, after a feed read
    assert refresh == {"dynamodb:BatchGetItem"}
    feed_reads = dynamodb_calls("records/feed.py", "head") | dynamodb_calls("records/feed.py", "_query")
    index_reads = feed_reads | dynamodb_calls("records/index.py", "ClientIndex.get_item") | refresh
    index_writes = (dynamodb_calls("records/index.py", "ClientIndex") - refresh) | dynamodb_calls(
        "records/feed.py", "append"
    )
    assert index_reads == set(INDEX_READ_ACTIONS) and index_writes == set(INDEX_WRITE_ACTIONS)
    # The sweep function's reconciliation: its own calls, and the index's and the feed's.
    sweep_calls = dynamodb_calls("lifecycle/reconcile.py", "Reconciler") | feed_reads | index_writes
    assert sweep_calls == {*RECONCILE_ITEM_ACTIONS, "dynamodb:Scan"}
    last_use_reads = dynamodb_calls("authorize/usage_table.py", "read_last_used")  # with staleAfterDays only
    for tpl, stale in ((template_json, False), (variant_json, True)):
        granted = {name: actions_of(s, "dynamodb:") for name, s in statements_by_function(tpl).items()}
        expected: dict[str, set[str]] = {name: set() for name in FUNCTIONS}  # no other touches the table
        expected.update(
            {
                "authorizer": authorizer_calls | index_reads,
                "admin": admin_calls | index_writes,
                "leaks": leak_calls | alert_calls | index_writes,
                "rotation": index_writes,
                "sweep": sweep_calls | (last_use_reads if stale else set()),
            }
        )
        assert granted == expected

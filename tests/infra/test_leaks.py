"""The leak endpoint in the template: the one route without gateway authorization, throttled on its
own, and a function that may do no more than its leak action takes."""

from __future__ import annotations

from typing import Any

import pytest

from infra.secrets import LEAK_ACTIONS
from infra.settings import SettingsError, StackSettings
from infra.table import ALERT_MEMORY_ACTIONS, INDEX_WRITE_ACTIONS
from infra.testing import functions_by_handler, synth_template
from tests.infra.test_template import actions_of, as_list, function_ids, resources, statements_by_function
from tests.infra.variants import KMS_KEY_ARN
from tests.support import staged_version
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.deployment.routes import LEAKS_ROUTE, ROUTES
from tokengate_core.lifecycle import alerts
from tokengate_core.records import github_keys

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def test_the_leak_route_is_the_only_one_without_gateway_authorization(template_json: dict[str, Any]) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template_json, "AWS::ApiGatewayV2::Route").values()
    }
    unauthorized = {key for key, props in routes.items() if props["AuthorizationType"] == "NONE"}
    assert unauthorized == {LEAKS_ROUTE.route_key} == {r.route_key for r in ROUTES if r.authorization == "NONE"}
    assert "AuthorizerId" not in routes[LEAKS_ROUTE.route_key]
    assert all(
        props["AuthorizationType"] in ("CUSTOM", "AWS_IAM") for key, props in routes.items() if key not in unauthorized
    )
    # It reaches the leak function and nothing else.
    integrations = resources(template_json, "AWS::ApiGatewayV2::Integration")
    target = routes[LEAKS_ROUTE.route_key]["Target"]["Fn::Join"][1][1]["Ref"]
    uri = integrations[target]["Properties"]["IntegrationUri"]
    assert uri == {"Fn::GetAtt": [function_ids(template_json)["leaks"], "Arn"]}


@pytest.mark.parametrize(
    ("context", "rate", "burst"), [({}, 5, 10), ({"leaksThrottleRateLimit": "1", "leaksThrottleBurstLimit": "2"}, 1, 2)]
)
def test_the_leak_route_has_its_own_small_throttle(context: dict[str, str], rate: float, burst: int) -> None:
    (stage,) = resources(synth_template(context), "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["RouteSettings"] == {
        LEAKS_ROUTE.route_key: {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
    }
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"] == 100


@pytest.mark.parametrize("action", ["revoke", "disable"])
def test_the_leak_function_may_do_only_what_its_action_takes(action: str) -> None:
    template = synth_template({} if action == "revoke" else {"leakAction": action})
    statements = statements_by_function(template)["leaks"]
    assert actions_of(statements, "secretsmanager:") == set(LEAK_ACTIONS[action])
    assert not actions_of(statements, "kms:")
    # On the table: GitHub's shared key list and the items that remember answered alerts, and the
    # digest index and change feed a revoke or disable writes first; no name claim, no usage counter.
    table_arn = {"Fn::GetAtt": [next(iter(resources(template, "AWS::DynamoDB::Table"))), "Arn"]}
    tables = [s for s in statements if actions_of([s], "dynamodb:")]
    assert all(s["Resource"] == table_arn for s in tables)
    assert {tuple(sorted(as_list(s["Action"]))): s["Condition"] for s in tables} == {
        tuple(sorted({*github_keys.ACTIONS, *ALERT_MEMORY_ACTIONS})): {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [github_keys.PARTITION, f"{alerts.KEY_PREFIX}*"]}
        },
        tuple(sorted(INDEX_WRITE_ACTIONS)): {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["index#*", "feed"]}},
    }
    assert actions_of(statements, "events:") == {"events:PutEvents"}
    everything = {a for s in statements for a in as_list(s["Action"])}
    assert everything - set(LEAK_ACTIONS[action]) - set(ALERT_MEMORY_ACTIONS) - set(INDEX_WRITE_ACTIONS) - {
        "events:PutEvents",
        *github_keys.ACTIONS,
    } <= {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert "secretsmanager:ListSecrets" not in everything and "secretsmanager:CreateSecret" not in everything
    env = {h: f["Environment"]["Variables"] for h, f in functions_by_handler(template).items()}
    assert env[FUNCTIONS["leaks"].handler]["TOKENGATE_LEAK_ACTION"] == action
    assert env[FUNCTIONS["admin"].handler]["TOKENGATE_LEAK_ACTION"] == action  # the admin API's reports alike
    assert env[FUNCTIONS["leaks"].handler]["TOKENGATE_GITHUB_KEYS_URL"] == (
        "https://api.github.com/meta/public_keys/secret_scanning"
    )


def test_with_a_customer_managed_key_revoking_may_only_decrypt(variant_json: dict[str, Any]) -> None:
    statements = statements_by_function(variant_json)["leaks"]
    keys = [s for s in statements if actions_of([s], "kms:")]
    assert keys and all(as_list(key["Action"]) == ["kms:Decrypt"] and key["Resource"] == KMS_KEY_ARN for key in keys)
    # The secrets' (for a revoke's reads) and, through DynamoDB only, the table's.
    assert len(keys) == 2 and any("kms:ViaService" in str(key.get("Condition")) for key in keys)


@pytest.mark.parametrize(
    ("key", "value"),
    [("leakAction", "delete"), ("githubKeysUrl", "http://example.com/keys"), ("leaksThrottleRateLimit", "0")],
)
def test_bad_leak_settings_fail_the_synth_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        StackSettings.from_mapping({key: value})


@pytest.mark.parametrize("action", ["revoke", "disable"])
def test_the_leak_responses_call_exactly_what_the_role_grants(
    action: str, monkeypatch: pytest.MonkeyPatch, emulator: SecretsManagerEmulator
) -> None:
    """Every Secrets Manager call a leak response makes, on its happy path, with a scheduled rotation
    in flight, and while undoing a failed step, is granted, and every grant is needed."""
    import boto3

    from tests.support import FakeContext, call_admin, issue
    from tokengate.emulator import Fault
    from tokengate_core.admin.context import AdminContext
    from tokengate_core.deployment.config import LeakSettings
    from tokengate_core.lifecycle.events import NoEvents
    from tokengate_core.lifecycle.leaks import Incomplete, LeakResponder, Report
    from tokengate_core.records.store import SecretsStore, api_name
    from tokengate_core.runtime.aws import make_registry, make_store

    called: set[str] = set()
    original = SecretsStore._call

    def recording(operation: Any, /, *args: Any, **kwargs: Any) -> Any:
        called.add(f"secretsmanager:{api_name(operation.__name__)}")
        return original(operation, *args, **kwargs)

    settings = LeakSettings(leak_action=action).client_settings()
    admin = AdminContext(store=make_store(settings), settings=settings, registry=make_registry(settings))
    responder = LeakResponder(admin, action=action, events=NoEvents(), audit=lambda *a, **k: None)  # type: ignore[arg-type]
    _, plain = issue("acme", "plain")
    pending_id, pending = issue("acme", "pending", rotation_period_days=30, token_fetch=True, grace_seconds=60)
    sm = boto3.client("secretsmanager")
    arn = sm.describe_secret(SecretId=f"tokengate/clients/{pending_id}")["ARN"]
    from rotation import app as rotation

    step = {"Step": "createSecret", "SecretId": arn, "ClientRequestToken": staged_version(arn)}
    rotation.handler(step, FakeContext())  # a scheduled rotation in flight
    failing_id, failing = issue("acme", "failing")
    monkeypatch.setattr(SecretsStore, "_call", staticmethod(recording))
    assert [
        o.state for o in responder.respond([Report(plain), Report(pending)], "arn:aws:iam::1:user/a", lambda: 60)
    ] == (["revoked", "revoked"] if action == "revoke" else ["disabled", "disabled"])
    failing_step = "DeleteSecret" if action == "revoke" else "TagResource"
    emulator.inject(Fault("error", frozenset({failing_step})))
    with pytest.raises(Incomplete):
        responder.respond([Report(failing)], "arn:aws:iam::1:user/a", lambda: 60)
    emulator.inject(None)
    assert called == set(LEAK_ACTIONS[action])
    assert call_admin("GET", f"/admin/tenants/acme/clients/{failing_id}").body["status"] == "active"

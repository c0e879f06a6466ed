"""Alarms, their SNS topic, the dashboard and the metric settings in the synthesized template.

The decision alarms are checked against what the authorizer really emits: an EMF line written by
tokengate_core.runtime.observability with the environment the template gives the authorizer must carry
exactly the namespace, metric and dimensions each alarm watches.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from infra.monitoring import ALARM_PERIOD, ALARM_THRESHOLD
from infra.settings import SettingsError, StackSettings
from infra.testing import functions_by_handler
from tests.infra.test_template import function_ids, resources
from tests.infra.variants import ALARM_TOPIC_ARN
from tokengate_core.authorize.decision import Reason
from tokengate_core.authorize.last_used import METRIC_FAILED as LAST_USED_FAILED
from tokengate_core.authorize.last_used import report_failure
from tokengate_core.deployment.config import AuthorizerSettings, SweepSettings
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.errors import CORRUPT_RECORD
from tokengate_core.lifecycle.events import METRIC_EVENTS_FAILED
from tokengate_core.lifecycle.reconcile import METRIC_REPAIRED, METRIC_SKIPPED, ReconcileReport, report_run
from tokengate_core.lifecycle.sweep import METRIC_CLIENTS_SKIPPED, SweepReport, report_skipped
from tokengate_core.runtime.observability import (
    METRIC_CACHE_HIT,
    METRIC_DENIED,
    METRIC_INDEX_FETCH,
    decision_dimensions,
    emit_decision,
)

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]

#: Alarm name (after the stack name) -> (function, AWS/Lambda metric).
LAMBDA_ALARMS: dict[str, tuple[FunctionName, str]] = {
    "authorizer-errors": ("authorizer", "Errors"),
    "authorizer-throttles": ("authorizer", "Throttles"),
    "admin-errors": ("admin", "Errors"),
    "rotation-errors": ("rotation", "Errors"),
    "sweep-errors": ("sweep", "Errors"),
}
#: Alarm name -> the decision reason whose denials it counts.
DECISION_ALARMS = {
    "authorizer-backend-unavailable": Reason.BACKEND_UNAVAILABLE.value,
    "authorizer-corrupt-record": CORRUPT_RECORD,
}
#: Alarms on metric math (a sum over the functions that emit the metric).
MATH_ALARMS = {"lifecycle-events-failed"}
#: Alarm name -> the function that emits the custom metric it watches, and the metric.
FUNCTION_METRIC_ALARMS: dict[str, tuple[FunctionName, str]] = {
    "sweep-clients-skipped": ("sweep", METRIC_CLIENTS_SKIPPED),
    "index-repaired": ("sweep", METRIC_REPAIRED),
    "reconcile-clients-skipped": ("sweep", METRIC_SKIPPED),
    "last-use-writes-failed": ("authorizer", LAST_USED_FAILED),
}


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each alarm's properties by name, without the stack-name prefix."""
    found = {}
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        stack, _, name = props["AlarmName"].partition("-")
        assert stack == "TokenGate", props["AlarmName"]
        found[name] = props
    return found


def dimensions(props: dict[str, Any]) -> dict[str, Any]:
    return {d["Name"]: d["Value"] for d in props["Dimensions"]}


def authorizer_environment(template: dict[str, Any]) -> dict[str, str]:
    """The authorizer's literal variables (the table's name is a reference, known only at deploy)."""
    env: dict[str, Any] = functions_by_handler(template)[FUNCTIONS["authorizer"].handler]["Environment"]["Variables"]
    return {k: v for k, v in env.items() if isinstance(v, str)}


def emitted(settings: AuthorizerSettings, metric: str, reason: str, cache: str = "none") -> dict[str, Any]:
    """The EMF document the authorizer writes for one decision, with these settings."""
    fields = {"reason": reason, "tenant": "acme", "cache": cache}
    out = io.StringIO()
    with redirect_stdout(out):
        emit_decision(
            FUNCTIONS["authorizer"].service,
            metric,
            fields,
            decision_dimensions("acme", settings.metric_tenant_dimension),
            namespace=settings.metrics_namespace,
            cache=cache,
        )
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body as JSON, every reference replaced by a readable placeholder."""
    ((_, board),) = resources(template, "AWS::CloudWatch::Dashboard").items()
    parts = board["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        elif "Ref" in part:
            text += f"<{part['Ref']}>"
        else:
            text += f"<{part['Fn::GetAtt'][0]}.{part['Fn::GetAtt'][1]}>"
    body: dict[str, Any] = json.loads(text)
    # Named after the stack and its region: dashboard names are global to the account.
    assert board["Properties"]["DashboardName"] == {"Fn::Join": ["", ["TokenGate-", {"Ref": "AWS::Region"}]]}
    return body


# -- alarms ---------------------------------------------------------------------------------------------


def test_the_alarms_are_exactly_the_operational_ones(template_json: dict[str, Any]) -> None:
    assert set(alarms(template_json)) == {
        "api-5xx",
        *LAMBDA_ALARMS,
        *DECISION_ALARMS,
        *MATH_ALARMS,
        *FUNCTION_METRIC_ALARMS,
    }


def test_every_alarm_fires_on_the_first_occurrence_and_ignores_silence(template_json: dict[str, Any]) -> None:
    for name, props in alarms(template_json).items():
        if name in MATH_ALARMS:
            metrics = [m for m in props["Metrics"] if "MetricStat" in m]
            assert metrics and {m["MetricStat"]["Stat"] for m in metrics} == {"Sum"}, name
            assert {m["MetricStat"]["Period"] for m in metrics} == {ALARM_PERIOD.to_seconds()}
        else:
            assert props["Statistic"] == "Sum", name
            assert props["Period"] == ALARM_PERIOD.to_seconds() == 300
        assert props["EvaluationPeriods"] == 1
        assert props["Threshold"] == ALARM_THRESHOLD == 1
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert props["TreatMissingData"] == "notBreaching"
        assert len(props["AlarmDescription"]) > 60, name


def test_the_api_alarm_watches_the_stages_5xx(template_json: dict[str, Any]) -> None:
    props = alarms(template_json)["api-5xx"]
    (api_id,) = resources(template_json, "AWS::ApiGatewayV2::Api")
    assert (props["Namespace"], props["MetricName"]) == ("AWS/ApiGateway", "5xx")
    assert dimensions(props) == {"ApiId": {"Ref": api_id}, "Stage": "dev"}


def test_the_function_alarms_watch_their_functions(template_json: dict[str, Any]) -> None:
    ids = function_ids(template_json)
    found = alarms(template_json)
    for name, (function, metric) in LAMBDA_ALARMS.items():
        props = found[name]
        assert (props["Namespace"], props["MetricName"]) == ("AWS/Lambda", metric)
        assert dimensions(props) == {"FunctionName": {"Ref": ids[function]}}


def test_the_function_metric_alarms_watch_exactly_what_their_functions_emit(template_json: dict[str, Any]) -> None:
    """Each function's own environment names the namespace its EMF line declares."""
    env = functions_by_handler(template_json)[FUNCTIONS["sweep"].handler]["Environment"]["Variables"]
    settings = SweepSettings.from_env({k: v for k, v in env.items() if isinstance(v, str)})
    authorizer_settings = AuthorizerSettings.from_env(authorizer_environment(template_json))
    found = alarms(template_json)
    for name, (function, metric) in FUNCTION_METRIC_ALARMS.items():
        out = io.StringIO()
        with redirect_stdout(out):
            service = FUNCTIONS[function].service
            if metric == METRIC_CLIENTS_SKIPPED:
                report_skipped(SweepReport(unreadable=["k"]), service, settings.metrics_namespace)
            elif metric == LAST_USED_FAILED:
                report_failure(authorizer_settings.metrics_namespace)("k", "ThrottlingException")
            else:  # one repair and one skipped client: each its own line
                report_run(ReconcileReport(built=["k"], failed=["j"]), service, settings.metrics_namespace)
        (document,) = [d for d in map(json.loads, out.getvalue().splitlines()) if metric in d]
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        props = found[name]
        assert (props["Namespace"], props["MetricName"]) == (directive["Namespace"], metric)
        assert directive["Metrics"] == [{"Name": metric, "Unit": "Count"}] and document[metric] == 1
        assert [sorted(dimensions(props))] == [sorted(d) for d in directive["Dimensions"]]
        assert dimensions(props) == {key: document[key] for key in dimensions(props)}


@pytest.mark.parametrize("variant", [False, True])
def test_the_decision_alarms_watch_exactly_what_the_authorizer_emits(
    template_json: dict[str, Any], variant_json: dict[str, Any], variant: bool
) -> None:
    """With the per-tenant dimension off and on: an alarm on [service, reason] must match a set
    the EMF line declares, or CloudWatch never has the metric the alarm waits for."""
    template = variant_json if variant else template_json
    settings = AuthorizerSettings.from_env(authorizer_environment(template))
    assert settings.metrics_namespace == StackSettings().metrics_namespace == "tokengate/TokenGate"
    found = alarms(template)
    for name, reason in DECISION_ALARMS.items():
        props = found[name]
        document = emitted(settings, METRIC_DENIED, reason)
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        assert props["Namespace"] == directive["Namespace"]
        assert props["MetricName"] == METRIC_DENIED and directive["Metrics"] == [
            {"Name": METRIC_DENIED, "Unit": "Count"}
        ]
        assert sorted(dimensions(props)) in [sorted(d) for d in directive["Dimensions"]]
        assert dimensions(props) == {key: document[key] for key in dimensions(props)}
        assert dimensions(props)["reason"] == reason


def test_without_a_topic_no_alarm_notifies(template_json: dict[str, Any]) -> None:
    for props in alarms(template_json).values():
        assert "AlarmActions" not in props and "OKActions" not in props


def test_with_a_topic_every_alarm_notifies_it_on_alarm_and_on_recovery(variant_json: dict[str, Any]) -> None:
    found = alarms(variant_json)
    assert len(found) == len(LAMBDA_ALARMS) + len(DECISION_ALARMS) + len(MATH_ALARMS) + len(FUNCTION_METRIC_ALARMS) + 1
    for props in found.values():
        assert props["AlarmActions"] == props["OKActions"] == [ALARM_TOPIC_ARN]
    # An existing topic: the stack creates none and grants nothing on it.
    assert not resources(variant_json, "AWS::SNS::Topic")
    assert not resources(variant_json, "AWS::SNS::TopicPolicy")


@pytest.mark.parametrize(
    "arn",
    [
        "tokengate-ops",
        "arn:aws:sns:us-east-1:123:tokengate-ops",
        "arn:aws:sqs:us-east-1:111122223333:tokengate-ops",
        "arn:aws:sns:us-east-1:111122223333:tokengate-ops.fifo",
        "arn:aws:sns:us-east-1:111122223333:*",
    ],
)
def test_a_bad_topic_arn_fails_the_synth_naming_the_key(arn: str) -> None:
    with pytest.raises(SettingsError, match="alarmTopicArn"):
        StackSettings.from_mapping({"alarmTopicArn": arn})


# -- per-tenant dimension -------------------------------------------------------------------------------


def test_the_per_tenant_dimension_is_off_unless_the_context_asks(
    template_json: dict[str, Any], variant_json: dict[str, Any]
) -> None:
    variable = AuthorizerSettings.env_name("metric_tenant_dimension")
    assert variable == "TOKENGATE_METRIC_TENANT_DIMENSION"
    assert authorizer_environment(template_json)[variable] == "false"
    assert authorizer_environment(variant_json)[variable] == "true"
    off = emitted(AuthorizerSettings.from_env(authorizer_environment(template_json)), METRIC_DENIED, "wrong_secret")
    on = emitted(AuthorizerSettings.from_env(authorizer_environment(variant_json)), METRIC_DENIED, "wrong_secret")
    assert ["service", "tenant"] not in off["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ["service", "tenant"] in on["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


# -- dashboard ------------------------------------------------------------------------------------------


def graphs(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["properties"]["title"]: w["properties"] for w in dashboard(template)["widgets"] if w["type"] == "metric"}


def test_the_dashboard_shows_every_alarm(template_json: dict[str, Any]) -> None:
    (status,) = [w for w in dashboard(template_json)["widgets"] if w["type"] == "alarm"]
    ids = {lid for lid, r in template_json["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert sorted(status["properties"]["alarms"]) == sorted(f"<{lid}.Arn>" for lid in ids)


def test_the_dashboard_graphs_decisions_by_every_reason_in_the_stacks_namespace(template_json: dict[str, Any]) -> None:
    namespace = StackSettings().metrics_namespace
    ((decisions,),) = next(g for t, g in graphs(template_json).items() if "decisions by reason" in t)["metrics"]
    # A search over the [reason, service] set, so a reason added later shows up without a change here.
    assert decisions["expression"] == (
        f"SEARCH('{{\"{namespace}\",reason,service}} service=\"{FUNCTIONS['authorizer'].service}\"', 'Sum', 60)"
    )
    assert "Dim.reason" in decisions["label"]


def test_the_dashboard_graphs_latency_hit_ratio_and_index_reads(template_json: dict[str, Any]) -> None:
    namespace = StackSettings().metrics_namespace
    authorizer = f"<{function_ids(template_json)['authorizer']}>"
    found = graphs(template_json)
    latency = found["Authorizer latency (ms)"]["metrics"]
    assert [m[:4] for m in latency] == [["AWS/Lambda", "Duration", "FunctionName", authorizer]] * 4
    assert [m[4]["stat"] for m in latency] == ["p50", "p90", "p99", "Maximum"]
    ratio, hits = found["Authorizer cache hit ratio (%)"]["metrics"]
    assert ratio[0]["expression"] == "100 * hits"
    assert hits[:4] == [namespace, METRIC_CACHE_HIT, "service", FUNCTIONS["authorizer"].service]
    assert hits[4]["id"] == "hits" and "stat" not in hits[4]  # Average: the share of lookups that hit
    fetches = next(g for t, g in found.items() if t.startswith("Digest index reads"))["metrics"][0]
    assert fetches[:4] == [namespace, METRIC_INDEX_FETCH, "service", FUNCTIONS["authorizer"].service]
    assert fetches[4]["stat"] == "Sum"
    # And the authorizer writes exactly those metrics, in that namespace, by service alone.
    settings = AuthorizerSettings.from_env(authorizer_environment(template_json))
    cache_directive = emitted(settings, "Authorized", "allowed", cache="hit")["_aws"]["CloudWatchMetrics"][1]
    assert cache_directive["Namespace"] == namespace and cache_directive["Dimensions"] == [["service"]]
    assert {m["Name"] for m in cache_directive["Metrics"]} == {METRIC_CACHE_HIT, METRIC_INDEX_FETCH}


def test_the_documented_alarm_cost_counts_each_metric_a_metric_math_alarm_reads(template_json: dict[str, Any]) -> None:
    """CloudWatch bills alarms per alarm metric: a metric math alarm costs one per metric it reads."""
    found = alarms(template_json)
    single = [name for name, props in found.items() if "Metrics" not in props]
    read = {
        name: len([query for query in props["Metrics"] if "MetricStat" in query])
        for name, props in found.items()
        if "Metrics" in props
    }
    assert read == {"lifecycle-events-failed": len([s for s in FUNCTIONS.values() if s.emits])}
    total = len(single) + sum(read.values())
    text = " ".join((Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text().split())
    (math_alarm,) = read
    assert (
        f"the {len(single)} single-metric alarms and `{math_alarm}`, which sums `{METRIC_EVENTS_FAILED}` over"
        f" the {read[math_alarm]} functions that publish events, are {total} alarm metrics, about"
        f" ${total * 0.10:.2f} a month"
    ) in text


def test_the_deploy_guide_counts_and_lists_every_alarm(template_json: dict[str, Any]) -> None:
    found = alarms(template_json)
    text = (Path(__file__).resolve().parents[2] / "docs" / "deploy.md").read_text()
    words = {12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen"}
    assert f"The stack creates {words[len(found)]} CloudWatch alarms" in text
    assert set(re.findall(r"^\| `([a-z0-9-]+)` \| ", text, re.MULTILINE)) >= set(found)

"""Lifecycle events in the template: each publishing function may put exactly its event types, from
tokengate's source, on the one configured bus; the alarm sums what every publisher failed to send."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest

from infra.testing import functions_by_handler, synth_template
from tests.infra.test_monitoring import alarms
from tests.infra.test_template import as_list, statements_by_function
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.events import METRIC_EVENTS_FAILED, SOURCE, FailedDelivery, event_failure_reporter

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]


def put_events_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [s for s in statements if any(a.startswith("events:") for a in as_list(s["Action"]))]
        for name, statements in statements_by_function(template).items()
    }


def bus_arn(name: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":events:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":event-bus/{name}",
            ],
        ]
    }


@pytest.mark.parametrize(("context", "bus"), [({}, "default"), ({"eventBusName": "ops-bus"}, "ops-bus")])
def test_each_publisher_may_put_only_its_own_event_types_on_the_one_bus(context: dict[str, str], bus: str) -> None:
    template = synth_template(context)
    found = put_events_statements(template)
    assert any(FUNCTIONS[name].emits for name in FUNCTIONS)
    for name, spec in FUNCTIONS.items():
        if not spec.emits:
            assert found[name] == [], name
            continue
        (statement,) = found[name]
        assert statement["Effect"] == "Allow" and as_list(statement["Action"]) == ["events:PutEvents"]
        assert statement["Resource"] == bus_arn(bus)
        condition = statement["Condition"]["StringEquals"]
        assert condition["events:source"] == SOURCE
        assert sorted(as_list(condition["events:detail-type"])) == sorted(t.value for t in spec.emits)
        variables = functions_by_handler(template)[spec.handler]["Environment"]["Variables"]
        assert variables["TOKENGATE_EVENT_BUS_NAME"] == bus


def test_a_bad_bus_name_fails_the_synth_naming_the_key() -> None:
    from infra.settings import SettingsError, StackSettings

    with pytest.raises(SettingsError, match="eventBusName"):
        StackSettings.from_mapping({"eventBusName": "arn:aws:events:us-east-1:1:event-bus/x y"})


def test_the_alarm_sums_exactly_what_each_publisher_emits_when_it_fails(template_json: dict[str, Any]) -> None:
    props = alarms(template_json)["lifecycle-events-failed"]
    stats = [m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m]
    publishers = {spec.service for spec in FUNCTIONS.values() if spec.emits}
    assert {s["Dimensions"][0]["Value"] for s in stats} == publishers
    for name, spec in FUNCTIONS.items():
        if not spec.emits:
            continue
        namespace = functions_by_handler(template_json)[spec.handler]["Environment"]["Variables"][
            "TOKENGATE_METRICS_NAMESPACE"
        ]
        out = io.StringIO()
        with redirect_stdout(out):
            event_failure_reporter(spec.service, namespace)(FailedDelivery(["Client Issued"], ["x"], "Throttled"))
        line = json.loads(out.getvalue())
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        watched = next(s for s in stats if s["Dimensions"][0]["Value"] == spec.service)
        assert watched["Namespace"] == directive["Namespace"] == "tokengate/TokenGate", name
        assert watched["MetricName"] == METRIC_EVENTS_FAILED == directive["Metrics"][0]["Name"]
        assert [d["Name"] for d in watched["Dimensions"]] == directive["Dimensions"][0]
        assert line[directive["Dimensions"][0][0]] == spec.service


@pytest.mark.parametrize(("context", "bus"), [({}, "default"), ({"eventBusName": "ops-bus"}, "ops-bus")])
def test_every_event_of_ours_reaches_the_log_group_the_console_reads(context: dict[str, str], bus: str) -> None:
    from infra.outputs import LIFECYCLE_LOG_GROUP

    template = synth_template(context)
    resources = template["Resources"]
    group = template["Outputs"][LIFECYCLE_LOG_GROUP]["Value"]["Ref"]
    assert resources[group]["Type"] == "AWS::Logs::LogGroup" and resources[group]["Properties"]["RetentionInDays"]
    (rule,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
    ]
    assert rule["EventPattern"] == {"source": [SOURCE]} and rule["EventBusName"] == bus
    (target,) = rule["Targets"]
    assert "RoleArn" not in target  # EventBridge writes to a log group under its resource policy
    assert group in json.dumps(target["Arn"]) and ":*" not in json.dumps(target["Arn"])
    (policy,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Logs::ResourcePolicy"]
    document = json.dumps(policy["PolicyDocument"])
    for needed in ('"Service\\":\\"events.amazonaws.com', "logs:CreateLogStream", "logs:PutLogEvents", group):
        assert needed in document, needed
    assert '\\"Action\\":\\"*' not in document and "aws:SourceAccount" in document

"""Alarms, their optional SNS topic, and the operations dashboard.

Every alarm fires on the first occurrence in a five-minute period: in normal operation each of
these counts is zero (the authorizer never raises, a denial for an unavailable backend or a
corrupt record refuses a client that may be valid), so one is already worth a look. The
authorizer's decision metrics come from its EMF lines (tokengate_core.runtime.observability) in the
stack's own namespace, so the alarms never count another stack's decisions; the metric names,
dimensions and reasons are the core's constants, not spelled out here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from infra.api import Api
from infra.settings import StackSettings
from tokengate_core.authorize.decision import Reason
from tokengate_core.authorize.last_used import METRIC_FAILED as METRIC_LAST_USED_FAILED
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName
from tokengate_core.errors import CORRUPT_RECORD
from tokengate_core.lifecycle.events import METRIC_EVENTS_FAILED
from tokengate_core.lifecycle.reconcile import METRIC_REPAIRED, METRIC_SKIPPED
from tokengate_core.lifecycle.sweep import METRIC_CLIENTS_SKIPPED
from tokengate_core.runtime.observability import (
    DIMENSION_REASON,
    DIMENSION_SERVICE,
    METRIC_AUTHORIZED,
    METRIC_CACHE_HIT,
    METRIC_DENIED,
    METRIC_INDEX_FETCH,
)

#: Each alarm looks at one period of this length and fires at this count or more.
ALARM_PERIOD = Duration.minutes(5)
ALARM_THRESHOLD = 1
#: The dashboard's graphs: one point per minute.
GRAPH_PERIOD = Duration.minutes(1)


@dataclass(frozen=True)
class AlarmSpec:
    name: str  # the alarm is named <stack name>-<name>
    description: str  # what it means and where to look: it arrives in every notification
    metric: cw.IMetric
    #: Resources the metric names by a string (a dimension value), not by a reference: the alarm
    #: depends on them explicitly, as CloudFormation cannot see a name in a string.
    names: tuple[IConstruct, ...] = field(default=())


def sweep_metric(settings: StackSettings, name: str) -> cw.Metric:
    """A count the sweep function emits (an EMF line by its service), summed per alarm period."""
    return cw.Metric(
        namespace=settings.metrics_namespace,
        metric_name=name,
        dimensions_map={DIMENSION_SERVICE: FUNCTIONS["sweep"].service},
        statistic="Sum",
        period=ALARM_PERIOD,
    )


def decision_metric(
    settings: StackSettings,
    name: str,
    *,
    reason: str | None = None,
    statistic: str = "Sum",
    period: Duration = ALARM_PERIOD,
) -> cw.Metric:
    """One of the authorizer's EMF metrics, by service (and reason), in the stack's namespace."""
    dimensions = {DIMENSION_SERVICE: FUNCTIONS["authorizer"].service}
    if reason is not None:
        dimensions[DIMENSION_REASON] = reason
    return cw.Metric(
        namespace=settings.metrics_namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=period,
    )


def events_failed_metric(settings: StackSettings) -> cw.IMetric:
    """Lifecycle events not delivered, summed over every function that publishes them (each counts
    its own, by service, in the stack's namespace; a function that never failed has no data)."""
    emitting = [name for name, spec in FUNCTIONS.items() if spec.emits]
    return cw.MathExpression(
        expression=" + ".join(f"FILL(m{i}, 0)" for i in range(len(emitting))),
        using_metrics={
            f"m{i}": cw.Metric(
                namespace=settings.metrics_namespace,
                metric_name=METRIC_EVENTS_FAILED,
                dimensions_map={DIMENSION_SERVICE: FUNCTIONS[name].service},
                statistic="Sum",
                period=ALARM_PERIOD,
            )
            for i, name in enumerate(emitting)
        },
        label="lifecycle events not delivered",
        period=ALARM_PERIOD,
    )


def sweep_alarms(settings: StackSettings, functions: dict[FunctionName, lambda_.IFunction]) -> list[AlarmSpec]:
    """The sweep function's: its failures, the clients its two jobs skipped, the index repairs."""
    return [
        AlarmSpec(
            "sweep-errors",
            "The daily sweep failed (the schedule retries it twice): Client Expiring events may be "
            "missing and imported tokens no client accepts stay in the keyring until a sweep succeeds.",
            functions["sweep"].metric_errors(period=ALARM_PERIOD, statistic="Sum"),
        ),
        AlarmSpec(
            "sweep-clients-skipped",
            "The sweep skipped clients whose record could not be read or whose event could not be "
            "made (a corrupt value, a name from before names were checked); the others were "
            "swept. The sweep log's 'sweep skipped clients' line names them.",
            sweep_metric(settings, METRIC_CLIENTS_SKIPPED),
        ),
        AlarmSpec(
            "index-repaired",
            "The reconciliation found the digest index out of step with the client secrets and "
            "repaired it (a write path failed between its steps, or a secret was changed by hand). "
            "The sweep log's 'index repaired' line names the clients and what was wrong.",
            sweep_metric(settings, METRIC_REPAIRED),
        ),
        AlarmSpec(
            "reconcile-clients-skipped",
            "The reconciliation could not check clients (a secret that is not a client record, or "
            "a read or write that failed); their index items may be out of step until it can. The "
            "sweep log's 'reconciliation skipped clients' line names them.",
            sweep_metric(settings, METRIC_SKIPPED),
        ),
    ]


def alarm_specs(settings: StackSettings, api: Api, functions: dict[FunctionName, lambda_.IFunction]) -> list[AlarmSpec]:
    authorizer = functions["authorizer"]
    return [
        AlarmSpec(
            "api-5xx",
            "The HTTP API answered 5xx: the authorizer failed (API Gateway then answers 500) or the "
            "admin API failed (503 backend_unavailable, 500). The access log has status, "
            "authorizerError and integrationError per request.",
            api.stage.metric_server_error(period=ALARM_PERIOD, statistic="Sum"),
            names=(api.stage,),
        ),
        AlarmSpec(
            "authorizer-errors",
            "The authorizer raised, failed its cold start or timed out (its handler catches "
            "everything, so this is a crash or bad configuration): those requests were refused.",
            authorizer.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
        ),
        AlarmSpec(
            "authorizer-throttles",
            "Lambda throttled the authorizer (account concurrency or reservedConcurrency): API "
            "Gateway answered those requests with an error.",
            authorizer.metric_throttles(period=ALARM_PERIOD, statistic="Sum"),
        ),
        AlarmSpec(
            "authorizer-backend-unavailable",
            "The authorizer denied tokens because the digest index (DynamoDB) or the keyring "
            "(Secrets Manager) failed and no cached client was fresh enough (stale-if-error "
            "exhausted): valid clients are being refused.",
            decision_metric(settings, METRIC_DENIED, reason=Reason.BACKEND_UNAVAILABLE.value),
        ),
        AlarmSpec(
            "authorizer-corrupt-record",
            "A secret under the stack's prefix holds no valid client record (edited or written by "
            "something else): that client is refused until its secret is fixed or restored.",
            decision_metric(settings, METRIC_DENIED, reason=CORRUPT_RECORD),
        ),
        AlarmSpec(
            "last-use-writes-failed",
            "The authorizer could not write clients' last use (DynamoDB throttled, failed or timed "
            "out; each is retried at the client's next request after 10 s): last_used_at may lag, "
            "and the sweep may take a client in use for stale. Its log line 'could not write a "
            "client's last use' names the clients by id and the error.",
            decision_metric(settings, METRIC_LAST_USED_FAILED),
        ),
        AlarmSpec(
            "admin-errors",
            "The admin function crashed or hit its timeout: the caller got a bare 5xx and the "
            "change may be half-done. The admin log is the audit trail.",
            functions["admin"].metric_errors(period=ALARM_PERIOD, statistic="Sum"),
        ),
        AlarmSpec(
            "rotation-errors",
            "A rotation step failed; Secrets Manager retries it and the client keeps its current "
            "token meanwhile. The rotation log names the step and the secret.",
            functions["rotation"].metric_errors(period=ALARM_PERIOD, statistic="Sum"),
        ),
        *sweep_alarms(settings, functions),
        AlarmSpec(
            "lifecycle-events-failed",
            "Lifecycle events could not be put on the event bus after retries (EventBridge failed, "
            "throttled, or refused them): the changes happened, their subscribers did not hear of "
            "them. The functions' logs name the clients and event types ('lifecycle events not "
            "delivered').",
            events_failed_metric(settings),
        ),
    ]


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: StackSettings,
        api: Api,
        functions: dict[FunctionName, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        topic = (
            sns.Topic.from_topic_arn(self, "AlarmTopic", settings.alarm_topic_arn) if settings.alarm_topic_arn else None
        )
        self.alarms: dict[str, cw.Alarm] = {}
        for spec in alarm_specs(settings, api, functions):
            alarm = cw.Alarm(
                self,
                "".join(part.capitalize() for part in spec.name.split("-")),
                alarm_name=f"{settings.stack_name}-{spec.name}",
                alarm_description=spec.description,
                metric=spec.metric,
                threshold=ALARM_THRESHOLD,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                # EMF metrics exist only while something is emitted: no data is no trouble.
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            for named in spec.names:
                alarm.node.add_dependency(named)
            if topic is not None:
                alarm.add_alarm_action(cw_actions.SnsAction(topic))
                alarm.add_ok_action(cw_actions.SnsAction(topic))
            self.alarms[spec.name] = alarm
        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            # Dashboard names are global to the account, not per region (unlike alarms): the same
            # stack in a second region must not take the first one's name.
            dashboard_name=f"{settings.stack_name}-{Aws.REGION}",
            default_interval=Duration.hours(3),
            widgets=self._widgets(settings, api, functions),
        )

    def _widgets(
        self, settings: StackSettings, api: Api, functions: dict[FunctionName, lambda_.IFunction]
    ) -> list[list[cw.IWidget]]:
        return [
            [cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values()), width=24, height=3)],
            *_authorizer_rows(settings, functions["authorizer"]),
            _traffic_row(api, functions),
        ]


def _authorizer_rows(settings: StackSettings, authorizer: lambda_.IFunction) -> list[list[cw.IWidget]]:
    """The authorizer's decisions by reason, its latency, its cache and its Secrets Manager calls."""
    service = FUNCTIONS["authorizer"].service
    # Every reason there is, including any a later version adds, without listing them here.
    by_reason = cw.SearchExpression(
        expression=(
            f'SEARCH(\'{{"{settings.metrics_namespace}",{DIMENSION_REASON},{DIMENSION_SERVICE}}} '
            f"{DIMENSION_SERVICE}=\"{service}\"', 'Sum', {GRAPH_PERIOD.to_seconds()})"
        ),
        # A dynamic label: one line per metric and reason, e.g. "Denied wrong_secret".
        label=f"${{PROP('MetricName')}} ${{PROP('Dim.{DIMENSION_REASON}')}}",
        period=GRAPH_PERIOD,
    )
    hit_ratio = cw.MathExpression(
        expression="100 * hits",
        using_metrics={"hits": decision_metric(settings, METRIC_CACHE_HIT, statistic="Average", period=GRAPH_PERIOD)},
        label="cache hit ratio (% of lookups)",
        period=GRAPH_PERIOD,
    )
    return [
        [
            cw.GraphWidget(
                title=f"Authorizer decisions by reason ({METRIC_AUTHORIZED} / {METRIC_DENIED})",
                left=[by_reason],
                stacked=True,
                width=12,
            ),
            cw.GraphWidget(
                title="Authorizer latency (ms)",
                left=[
                    authorizer.metric_duration(statistic=statistic, label=statistic, period=GRAPH_PERIOD)
                    for statistic in ("p50", "p90", "p99", "Maximum")
                ],
                width=12,
            ),
        ],
        [
            cw.GraphWidget(
                title="Authorizer cache hit ratio (%)",
                left=[hit_ratio],
                left_y_axis=cw.YAxisProps(min=0, max=100),
                width=12,
            ),
            cw.GraphWidget(
                title="Digest index reads by the authorizer (one attempt each)",
                left=[
                    decision_metric(settings, METRIC_INDEX_FETCH, period=GRAPH_PERIOD).with_(
                        label="decisions that fetched"
                    ),
                    authorizer.metric_invocations(label="authorizer invocations", period=GRAPH_PERIOD),
                ],
                width=12,
            ),
        ],
    ]


def _traffic_row(api: Api, functions: dict[FunctionName, lambda_.IFunction]) -> list[cw.IWidget]:
    """The API's requests and errors, and every function's errors (and the authorizer's throttles)."""
    return [
        cw.GraphWidget(
            title="API requests and errors",
            left=[
                api.stage.metric_count(label="requests", period=GRAPH_PERIOD),
                api.stage.metric_client_error(label="4xx", period=GRAPH_PERIOD),
                api.stage.metric_server_error(label="5xx", period=GRAPH_PERIOD),
            ],
            width=12,
        ),
        cw.GraphWidget(
            title="Function errors and throttles",
            left=[
                *(
                    function.metric_errors(label=f"{name} errors", period=GRAPH_PERIOD)
                    for name, function in functions.items()
                ),
                functions["authorizer"].metric_throttles(label="authorizer throttles", period=GRAPH_PERIOD),
            ],
            width=12,
        ),
    ]

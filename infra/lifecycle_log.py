"""The lifecycle events, readable: an EventBridge rule on the deployment's bus delivers every event
from tokengate's source to a CloudWatch Logs log group, which ``tokengate console`` reads
(``FilterLogEvents``, with the operator's own credentials) and the stack names in its
``LifecycleLogGroup`` output.

EventBridge writes to a log group under the log group's resource-based policy, not a role: "For
Amazon CloudWatch Logs targets, do not specify a RoleArn" (EventBridge User Guide, "Using
resource-based policies for Amazon EventBridge", CloudWatch Logs permissions). The policy here is
a plain ``AWS::Logs::ResourcePolicy`` granting ``logs:CreateLogStream`` and ``logs:PutLogEvents``
on this one log group to ``events.amazonaws.com``, for rules of this account only; aws-events-targets'
own CloudWatchLogGroup target would add a custom resource (a Lambda function) to write it.
What it costs: docs/console.md, "Events of a deployed stack".
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from infra.observability import retention
from infra.settings import StackSettings
from tokengate_core.lifecycle.events import SOURCE


@jsii.implements(events.IRuleTarget)
class _LogGroupTarget:
    """The log group as the rule's target, by ARN (no role: EventBridge uses the resource policy)."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self.log_group = log_group

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        # The group's own ARN, without the ":*" of log_group_arn (which names its streams), as
        # aws-events-targets' CloudWatchLogGroup target gives it.
        arn = Stack.of(self.log_group).format_arn(
            service="logs",
            resource="log-group",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=self.log_group.log_group_name,
        )
        return events.RuleTargetConfig(arn=arn)


class LifecycleLog(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.log_group = logs.LogGroup(
            self, "Events", retention=retention(settings.log_retention_days), removal_policy=RemovalPolicy.DESTROY
        )
        writers: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": stack.account}}
        self.log_group.add_to_resource_policy(
            iam.PolicyStatement(
                sid="LifecycleEventsFromEventBridge",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
                conditions=writers,
            )
        )
        bus = events.EventBus.from_event_bus_name(self, "Bus", settings.event_bus_name)
        self.rule = events.Rule(
            self,
            "Rule",
            description="Every tokengate lifecycle event, into the log group tokengate console reads",
            event_bus=bus,
            event_pattern=events.EventPattern(source=[SOURCE]),
            targets=[_LogGroupTarget(self.log_group)],
        )

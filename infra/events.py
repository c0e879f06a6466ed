"""Lifecycle events: the one bus the functions publish to, and who may put what on it.

Each function that publishes (``FunctionSpec.emits``) may call ``events:PutEvents`` on the
deployment's bus only (context ``eventBusName``: the account's default bus unless named), and
only for events whose source is tokengate's and whose detail-type is one it emits (EventBridge's
``events:source`` and ``events:detail-type`` condition keys), so no function can impersonate
another source or publish a type it never sends.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import SOURCE

PUT_EVENTS = "events:PutEvents"


def event_bus_arn(scope: Construct, bus_name: str) -> str:
    """``arn:<partition>:events:<region>:<account>:event-bus/<name>`` in the stack's account and region."""
    return Stack.of(scope).format_arn(
        service="events", resource="event-bus", resource_name=bus_name, arn_format=ArnFormat.SLASH_RESOURCE_NAME
    )


def grant_put_events(
    scope: Construct, role: iam.IRole, bus_name: str, detail_types: frozenset[DetailType]
) -> iam.Policy:
    """A policy named LifecycleEvents under ``scope``: PutEvents on the bus, for these types only."""
    if not detail_types:
        raise ValueError("a function that emits no lifecycle events needs no PutEvents grant")
    return iam.Policy(
        scope,
        "LifecycleEvents",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="LifecycleEvents",
                actions=[PUT_EVENTS],
                resources=[event_bus_arn(scope, bus_name)],
                conditions={
                    "StringEquals": {
                        "events:source": SOURCE,
                        "events:detail-type": sorted(t.value for t in detail_types),
                    }
                },
            )
        ],
    )

"""Where the stack's logs go and how long they stay.

Each function gets a log group created by the stack (not by Lambda on first write), so retention is
set from day one and each role can be limited to writing its own group. The admin function's log
is the audit trail of every issue/revoke/rotate (who, what, when), so it survives `cdk destroy`;
the others go with the stack.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.settings import RETENTION_DAYS, StackSettings
from tokengate_core.deployment.functions import FUNCTIONS, FunctionName

#: Log groups kept after `cdk destroy` (see docs/deploy.md for deleting them by hand).
RETAINED: frozenset[FunctionName] = frozenset({"admin"})


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a day count (StackSettings has already checked it is one).
    jsii enums carry their names as values, hence the names in RETENTION_DAYS."""
    names = {count: name for name, count in RETENTION_DAYS.items()}
    return getattr(logs.RetentionDays, names[days])  # type: ignore[no-any-return]


class Observability(Construct):
    """The log groups: one per function, one for API Gateway's access log."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(scope, construct_id)
        keep = retention(settings.log_retention_days)
        self.function_logs: dict[FunctionName, logs.LogGroup] = {
            name: logs.LogGroup(
                self,
                f"{name.capitalize()}Logs",
                retention=keep,
                removal_policy=RemovalPolicy.RETAIN if name in RETAINED else RemovalPolicy.DESTROY,
            )
            for name in FUNCTIONS
        }
        self.access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=keep, removal_policy=RemovalPolicy.DESTROY)

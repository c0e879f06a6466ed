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

from infra.settings import StackSettings
from tokengate_core.routes import FUNCTIONS, FunctionName

#: Log groups kept after `cdk destroy` (see docs/deploy.md for deleting them by hand).
RETAINED: frozenset[FunctionName] = frozenset({"admin"})


def retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a day count (StackSettings has already checked it is one)."""
    names = {count: name for name, count in _RETENTION_BY_NAME.items()}
    return getattr(logs.RetentionDays, names[days])  # type: ignore[no-any-return]


# jsii enums carry their names as values, so the day counts CloudWatch uses are spelled out here.
_RETENTION_BY_NAME = {
    "ONE_DAY": 1,
    "THREE_DAYS": 3,
    "FIVE_DAYS": 5,
    "ONE_WEEK": 7,
    "TWO_WEEKS": 14,
    "ONE_MONTH": 30,
    "TWO_MONTHS": 60,
    "THREE_MONTHS": 90,
    "FOUR_MONTHS": 120,
    "FIVE_MONTHS": 150,
    "SIX_MONTHS": 180,
    "ONE_YEAR": 365,
    "THIRTEEN_MONTHS": 400,
    "EIGHTEEN_MONTHS": 545,
    "TWO_YEARS": 731,
    "THREE_YEARS": 1096,
    "FIVE_YEARS": 1827,
    "SIX_YEARS": 2192,
    "SEVEN_YEARS": 2557,
    "EIGHT_YEARS": 2922,
    "NINE_YEARS": 3288,
    "TEN_YEARS": 3653,
}


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

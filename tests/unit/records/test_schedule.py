"""The rotation schedule AWS runs and the local stack plays: rate(N days), windows from midnight UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from tokengate_core.records.model import RotationPolicy
from tokengate_core.records.rules import MAX_ROTATION_DAYS
from tokengate_core.records.schedule import schedule_expression, window_opens
from tokengate_core.records.store import SecretsStore

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:rotation"


@pytest.mark.parametrize("days", [1, 7, 30, MAX_ROTATION_DAYS])
def test_secrets_manager_gets_a_rate_expression_never_automatically_after_days(days: int) -> None:
    """AutomaticallyAfterDays counts an admin write (PutSecretValue) as a rotation; rate() does not."""
    client = boto3.client("secretsmanager", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    expected = {
        "SecretId": "p/abc",
        "RotationLambdaARN": FUNCTION,
        "RotationRules": {"ScheduleExpression": schedule_expression(days)},
        "RotateImmediately": False,
    }
    with Stubber(client) as stub:  # the stubber also checks the request against botocore's model
        stub.add_response(
            "rotate_secret",
            {"ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:p/abc-{'A' * 6}", "Name": "p/abc"},
            expected,
        )
        SecretsStore(client, "p/").schedule_rotation("abc", FUNCTION, days)
        stub.assert_no_pending_responses()


def test_the_expression_is_secrets_managers_rate_in_days() -> None:
    assert schedule_expression(1) == "rate(1 day)"
    assert schedule_expression(30) == "rate(30 days)"
    for days in (0, MAX_ROTATION_DAYS + 1):
        with pytest.raises(ValueError, match="1 to 999 days"):
            schedule_expression(days)


def test_a_period_secrets_manager_cannot_schedule_is_refused_at_validation() -> None:
    assert RotationPolicy(period_days=MAX_ROTATION_DAYS).period_days == 999
    with pytest.raises(ValidationError):
        RotationPolicy(period_days=MAX_ROTATION_DAYS + 1)


@pytest.mark.parametrize(
    ("last", "days", "opens"),
    [
        (datetime(2026, 3, 1, 0, 0, tzinfo=UTC), 1, datetime(2026, 3, 2, tzinfo=UTC)),
        (datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC), 1, datetime(2026, 3, 2, tzinfo=UTC)),
        (datetime(2026, 2, 27, 12, tzinfo=UTC), 30, datetime(2026, 3, 29, tzinfo=UTC)),
        # The day is the UTC day, whatever the offset the time was written with.
        (datetime.fromisoformat("2026-03-01T23:30:00-05:00"), 1, datetime(2026, 3, 3, tzinfo=UTC)),
    ],
)
def test_the_window_opens_at_midnight_utc_n_days_after_the_day_of_the_last_rotation(
    last: datetime, days: int, opens: datetime
) -> None:
    assert window_opens(last, days) == opens

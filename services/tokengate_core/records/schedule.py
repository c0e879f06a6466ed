"""A client's rotation schedule: the one rule Secrets Manager runs in AWS and the local stack plays.

The schedule is a ``ScheduleExpression``, ``rate(N days)``, never ``AutomaticallyAfterDays``.
AWS documents that with AutomaticallyAfterDays "Secrets Manager calculates the next rotation date
based on the previous rotation" and that "manually updating the secret value by calling
PutSecretValue or UpdateSecret is considered a valid rotation" (Secrets Manager API reference,
RotationRulesType). Every admin write of a client (an update, a manual rotation) is a
PutSecretValue, so a client updated more often than its period would never rotate. A rate()
expression "means the secret is rotated every N days"; for a rate in days "the rotation window
starts at midnight" UTC and closes at the end of that day (Secrets Manager User Guide, "Rotation
schedules"), and AWS attaches the PutSecretValue rule to AutomaticallyAfterDays alone. Its longest
period is 999 days (same page).

No AWS dependency here: the store (and through it the authorizer's import path) uses it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

#: Secrets Manager's longest rate() schedule ("The maximum rotation period is 999 days").
MAX_ROTATION_DAYS = 999


def schedule_expression(days: int) -> str:
    """The RotationRules ScheduleExpression for a period of ``days``."""
    if not 1 <= days <= MAX_ROTATION_DAYS:
        raise ValueError(f"a rotation period is 1 to {MAX_ROTATION_DAYS} days")
    return f"rate({days} day{'' if days == 1 else 's'})"


def window_opens(last_rotation: datetime, days: int) -> datetime:
    """When the rotation window after ``last_rotation`` opens: midnight UTC of the day ``days``
    days after it. Secrets Manager rotates at some time during that UTC day; the local stack
    rotates at its first check in it (or later, if it was stopped through the window)."""
    day = last_rotation.astimezone(UTC).date() + timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=UTC)
